#!/usr/bin/env node
// A frontend on another origin, as Chromium enforces CORS for it:
//   allowed  a page from http://localhost:PORT (allowed by default with the embedded store)
//            calls the server at http://127.0.0.1:PORT with fetch(..., {credentials:
//            'include'}) and connects socket.io-client with withCredentials: true; both work
//   foreign  a page from http://foreign.test:PORT does the same; both are blocked
// Both pages are the server's landing page: the browser resolves both names to 127.0.0.1,
// so each page really is of another origin and of the same (loopback) address space.
// The outcome of each attempt goes to OUT_DIR/cors.json.
//
// Usage: node tests/browser/cors_origins.mjs BASE_URL OUT_DIR
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
// Exit codes: 0 every check passed; 1 a check failed; 2 misuse or the browser failed.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argv, env, exit, stderr, stdout } from 'node:process';

import { chromium } from 'playwright-core';

import { SOCKET_IO_BUNDLE, chromiumFlags } from './chromium.mjs';

const CHROMIUM_FLAGS = chromiumFlags(['localhost', 'foreign.test']);

// Runs inside the page: one credentialed REST call and one credentialed socket.
async function attempt({ api, token }) {
  const outcome = {};
  try {
    const response = await fetch(`${api}/api/chat`, {
      credentials: 'include',
      headers: { Authorization: `Bearer ${token}` },
    });
    outcome.rest = { ok: response.ok, status: response.status };
  } catch (error) {
    outcome.rest = { ok: false, error: String(error) };
  }
  outcome.socket = await new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    const socket = io(api, {
      auth: { token },
      withCredentials: true,
      transports: ['polling', 'websocket'],
      reconnection: false,
      timeout: 10000,
    });
    socket.on('connect', () => {
      socket.disconnect();
      resolve({ ok: true });
    });
    socket.on('connect_error', (error) => {
      socket.disconnect();
      resolve({ ok: false, error: String(error && error.message) });
    });
  });
  return outcome;
}

async function devUser(api) {
  const response = await fetch(`${api}/api/dev/users`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'browser' }),
  });
  if (response.status !== 201) throw new Error(`dev user: ${response.status}`);
  return (await response.json()).data.token;
}

async function main() {
  const [api, outDir] = argv.slice(2);
  if (!api || !outDir) {
    stderr.write('usage: cors_origins.mjs BASE_URL OUT_DIR\n');
    return 2;
  }
  const token = await devUser(api);
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
  });
  const report = {};
  try {
    // The landing page's own CSP confines it to its origin; a frontend's page has its own.
    const context = await browser.newContext({ bypassCSP: true });
    const port = new URL(api).port;
    const origins = { allowed: `http://localhost:${port}`, foreign: `http://foreign.test:${port}` };
    for (const [name, origin] of Object.entries(origins)) {
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.addScriptTag({ path: SOCKET_IO_BUNDLE });
      const outcome = await page.evaluate(attempt, { api, token });
      report[name] = { origin: await page.evaluate(() => location.origin), ...outcome };
      await page.close();
    }
  } finally {
    await browser.close();
  }
  await writeFile(join(outDir, 'cors.json'), JSON.stringify(report, null, 2));
  const failures = [];
  const { allowed, foreign } = report;
  if (!allowed.rest.ok) failures.push(`allowed origin, REST: ${JSON.stringify(allowed.rest)}`);
  if (!allowed.socket.ok) failures.push(`allowed origin, socket: ${allowed.socket.error}`);
  if (foreign.rest.ok) failures.push('foreign origin, REST: not blocked');
  if (foreign.socket.ok) failures.push('foreign origin, socket: not blocked');
  stdout.write(`${JSON.stringify(report)}\n`);
  for (const failure of failures) stderr.write(`FAIL ${failure}\n`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => exit(code),
  (error) => {
    stderr.write(`${error && error.stack ? error.stack : error}\n`);
    exit(2);
  },
);
