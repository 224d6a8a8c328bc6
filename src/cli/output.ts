// How the CLI speaks: JSON (one object) with --json, readable text otherwise.
// Errors use the same shape as on the wire.
import { formatError, HamError } from '../model/errors.js';
import { escapeText, jsonSafe } from './escape.js';

export interface OutputOptions {
  json?: boolean;
}

export function emit(opts: OutputOptions, value: unknown, human: () => string): void {
  // Escaped here as a net; formatters escape fields that may hold newlines (see escape.ts).
  process.stdout.write(opts.json ? `${jsonSafe(JSON.stringify(value))}\n` : `${escapeText(human())}\n`);
}

export function fail(opts: OutputOptions, err: unknown, exitCode = 1): never {
  const e = HamError.from(err).toShape();
  if (opts.json) process.stdout.write(`${jsonSafe(JSON.stringify({ error: e }))}\n`);
  else process.stderr.write(`ham: ${escapeText(formatError(e))}\n`);
  process.exit(exitCode);
}
