// Reading an input file for an import: a missing or unreadable file is the
// one error shape naming it, not a stack trace.
import { readFileSync } from 'node:fs';
import { importError } from './model.js';

/** At most this much of one input file is read: a config, not a data set. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

export function readInput(file: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw importError(
      file,
      undefined,
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'expected a file, got a folder' : `cannot read it: ${code ?? (e as Error).message}`,
    );
  }
  if (buf.length > MAX_INPUT_BYTES) throw importError(file, undefined, `expected at most ${MAX_INPUT_BYTES} bytes, got ${buf.length}`);
  return buf.toString('utf8');
}
