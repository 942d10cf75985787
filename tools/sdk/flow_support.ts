// What the TypeScript client flows share: the server's URL, steps that print, checks that
// fail with a readable message, and a runner that turns a failure into exit code 1.

/** A step saw something other than what the contract says. */
export class FlowFailed extends Error {
  override name = 'FlowFailed';
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new FlowFailed(message);
}

export function step(text: string): void {
  console.log(`  ok  ${text}`);
}

/** A 24-hex id that names nothing on a fresh server. */
export const UNKNOWN_ID = '0123456789abcdef01234567';

/** The error members every problem document carries (RFC 9457 + success and code). */
export interface ProblemShape {
  status: number;
  code: string;
  success: boolean;
  title: string;
  detail: string;
}

export function checkProblem<P extends ProblemShape>(
  body: P | undefined,
  status: number,
  code: string
): asserts body is P {
  check(
    body !== undefined && body.status === status && body.code === code && body.success === false,
    `expected problem ${status} ${code}, got ${JSON.stringify(body)}`
  );
}

/** Runs `flow` against the URL in argv[2] or CHAT_API_URL; sets the exit code. */
export function runFlow(name: string, flow: (baseUrl: string) => Promise<void>): void {
  const baseUrl = process.argv[2] ?? process.env.CHAT_API_URL ?? '';
  if (!baseUrl) {
    console.error(`usage: node ${name}.js BASE_URL (or set CHAT_API_URL)`);
    process.exitCode = 2;
    return;
  }
  console.log(`${name} against ${baseUrl}`);
  flow(baseUrl).then(
    () => console.log(`${name}: all steps passed`),
    (error: unknown) => {
      console.error(error instanceof FlowFailed ? `FAIL ${error.message}` : error);
      process.exitCode = 1;
    }
  );
}
