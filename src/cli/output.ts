// How the CLI speaks: JSON (one object) with --json, readable text otherwise.
// Errors use the same shape as on the wire.
import { formatError, HamError } from '../errors.js';

export interface OutputOptions {
  json?: boolean;
}

export function emit(opts: OutputOptions, value: unknown, human: () => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

export function fail(opts: OutputOptions, err: unknown, exitCode = 1): never {
  const e = HamError.from(err).toShape();
  if (opts.json) process.stdout.write(`${JSON.stringify({ error: e })}\n`);
  else process.stderr.write(`ham: ${formatError(e)}\n`);
  process.exit(exitCode);
}
