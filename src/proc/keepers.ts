// Keepers on this machine and what they were started with. The C keeper's
// command line is its title, `ham keeper NAME HOME` (keeper-title.c): its folder is
// then in its environment (HAM_KEEPER_DIR, readable by its owner only) and its
// original arguments in that folder's `argv`. The Perl keeper, and a C keeper
// before it titled itself, show their arguments as they were. Anyone can title
// a process so: only a process of our uid counts, its folder must be a keeper
// folder (under `keepers`, when given) that is ours and no symlink, and `argv`
// is read as records are (a regular file of ours, bounded, never blocking).
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isKeeperArgv, KEEPER_TITLE } from '../paths.js';
import { cmdline, startTime } from './procfs.js';

/** A keeper's `argv` is its command line (at most ARG_MAX, 2 MiB by default): anything larger is not one. */
export const MAX_ARGV_BYTES = 4 << 20;

const uid = (): number => process.getuid?.() ?? 0;

/** Is this process ours (the owner of its /proc folder: its effective uid)? */
function ours(pid: number): boolean {
  try {
    return statSync(`/proc/${pid}`).uid === uid();
  } catch {
    return false;
  }
}

/** A titled keeper's folder, from its environment; undefined if it has none (or is not ours). */
export function keeperDirOf(pid: number): string | undefined {
  if (!ours(pid)) return undefined;
  try {
    const kv = readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((v) => v.startsWith('HAM_KEEPER_DIR='));
    return kv?.slice('HAM_KEEPER_DIR='.length);
  } catch {
    return undefined;
  }
}

/** A keeper folder's `argv`, or undefined unless the folder and the file are ours, real and bounded. */
export function readKeeperArgvFile(dir: string, keepers?: string): string[] | undefined {
  if (keepers !== undefined && (dirname(dir) !== keepers || !/^\d+-\d+$/.test(basename(dir)))) return undefined;
  try {
    const d = lstatSync(dir);
    if (!d.isDirectory() || d.uid !== uid()) return undefined;
  } catch {
    return undefined;
  }
  let fd: number;
  try {
    fd = openSync(join(dir, 'argv'), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK); // a FIFO opens, never blocks
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== uid() || st.size > MAX_ARGV_BYTES) return undefined;
    const buf = Buffer.alloc(st.size + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > st.size) return undefined; // grew meanwhile
    return buf
      .toString('latin1', 0, n)
      .split('\0')
      .filter((a) => a.length > 0);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The arguments a keeper was started with (its command line, or its folder's `argv` once titled). */
export function keeperArgv(pid: number, argv = cmdline(pid), keepers?: string): string[] {
  if (!argv[0]?.startsWith(KEEPER_TITLE)) return argv;
  const dir = keeperDirOf(pid);
  if (dir === undefined) return argv;
  return readKeeperArgvFile(dir, keepers) ?? argv;
}

/** Live keepers of our uid (either kind; with `keepers`, a titled one only if its folder is in it), each with the arguments it was started with. */
export function keeperProcesses(keepers?: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = cmdline(pid);
    if (argv.length === 0 || !isKeeperArgv(argv) || startTime(pid) === undefined || !ours(pid)) continue;
    found.push({ pid, argv: keeperArgv(pid, argv, keepers) });
  }
  return found;
}
