#!/usr/bin/env node
// Validates an AsyncAPI document with the official parser (@asyncapi/parser), the same
// checks the AsyncAPI CLI runs: the JSON schema of the spec version, the parser's rule
// set, and resolution of every $ref, including relative ones into sibling files such as
// ./openapi.yaml (resolved from the document's own folder).
//
// Usage: node tools/validate-asyncapi.mjs [asyncapi.yaml]
// Exit codes: 0 valid; 1 an error, or a warning not listed in ACCEPTED_WARNINGS;
// 2 the file could not be read or the command was misused.
import { access } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { argv, exit, stderr, stdout } from 'node:process';

import parserPackage from '@asyncapi/parser';

const { Parser, fromFile, DiagnosticSeverity } = parserPackage;

// Rule codes whose warnings are judged unavoidable for this project, each with the reason.
const ACCEPTED_WARNINGS = new Map([
  // none so far
]);

const SEVERITY_NAMES = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

// A path relative to the working folder when the file is inside it, else the absolute path.
function shortPath(file) {
  const shown = relative(process.cwd(), file);
  return shown && !shown.startsWith('..') ? shown : file;
}

function location(diagnostic, fallbackFile) {
  const file = shortPath(diagnostic.source || fallbackFile);
  const start = diagnostic.range?.start;
  const position = start ? `${start.line + 1}:${start.character + 1}` : '1:1';
  return `${file}:${position}`;
}

function describe(diagnostic, file) {
  const severity = SEVERITY_NAMES[diagnostic.severity] ?? `severity-${diagnostic.severity}`;
  const path = diagnostic.path?.length ? ` at ${diagnostic.path.join('.')}` : '';
  return `${location(diagnostic, file)} ${severity} [${diagnostic.code}] ${diagnostic.message}${path}`;
}

function isBlocking(diagnostic) {
  if (diagnostic.severity === DiagnosticSeverity.Error) return true;
  if (diagnostic.severity !== DiagnosticSeverity.Warning) return false;
  return !ACCEPTED_WARNINGS.has(String(diagnostic.code));
}

async function main() {
  const args = argv.slice(2);
  if (args.length > 1 || args.some((arg) => arg.startsWith('-'))) {
    stderr.write('usage: node tools/validate-asyncapi.mjs [asyncapi.yaml]\n');
    return 2;
  }
  const file = resolve(args[0] ?? 'asyncapi.yaml');
  try {
    await access(file);
  } catch {
    stderr.write(`cannot read ${file}\n`);
    return 2;
  }

  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, file).parse();
  for (const diagnostic of diagnostics) {
    const accepted = ACCEPTED_WARNINGS.get(String(diagnostic.code));
    const note = diagnostic.severity === DiagnosticSeverity.Warning && accepted
      ? ` (accepted: ${accepted})` : '';
    stdout.write(`${describe(diagnostic, file)}${note}\n`);
  }

  const blocking = diagnostics.filter(isBlocking);
  const shown = shortPath(file);
  if (!document || blocking.length > 0) {
    stderr.write(`${shown}: INVALID (${blocking.length} blocking diagnostic(s))\n`);
    return 1;
  }
  stdout.write(`${shown}: valid AsyncAPI ${document.version()} (${diagnostics.length} diagnostic(s), none blocking)\n`);
  return 0;
}

main().then(
  (code) => exit(code),
  (error) => {
    stderr.write(`validation crashed: ${error?.stack ?? error}\n`);
    exit(2);
  },
);
