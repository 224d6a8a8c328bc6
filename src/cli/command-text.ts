// The COMMAND of an entity as the operator would type it: arguments with
// spaces, quotes or nothing in them shell-quoted; an adopted process (`attach
// --pid`, no command of ours) shown by its own command line from /proc.
import { readFileSync } from 'node:fs';

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word as a POSIX shell reads it back: plain, or in single quotes ('\'' for a quote inside). */
export function shellWord(w: string): string {
  return PLAIN.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}

/** The process's own argv (empty when it is gone or not ours to read); the CLI runs on the HAM's machine. */
function procArgv(pid: number): string[] {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.endsWith('\0') ? raw.slice(0, -1).split('\0') : raw === '' ? [] : raw.split('\0');
  } catch {
    return [];
  }
}

export function commandText(e: { kind: string; pid: number | null; argv: readonly string[] }): string {
  if (e.argv.length > 0) return shellLine(e.argv);
  if (e.kind === 'pid' && e.pid !== null) return shellLine(procArgv(e.pid));
  return '';
}
