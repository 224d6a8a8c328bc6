// Keepers on this machine and what they were started with. The C keeper's
// command line is its title, `ham keeper NAME` (keeper-title.c): its folder is
// then in its environment (HAM_KEEPER_DIR, readable by its owner only) and its
// original arguments in that folder's `argv`. The Perl keeper, and a C keeper
// before it titled itself, show their arguments as they were.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKeeperArgv, KEEPER_TITLE } from '../paths.js';
import { cmdline, startTime } from './procfs.js';

/** A titled keeper's folder, from its environment; undefined if it has none (or is not ours to read). */
export function keeperDirOf(pid: number): string | undefined {
  try {
    const kv = readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .find((v) => v.startsWith('HAM_KEEPER_DIR='));
    return kv?.slice('HAM_KEEPER_DIR='.length);
  } catch {
    return undefined;
  }
}

/** The arguments a keeper was started with (its command line, or its folder's `argv` once titled). */
export function keeperArgv(pid: number, argv = cmdline(pid)): string[] {
  if (!argv[0]?.startsWith(KEEPER_TITLE)) return argv;
  const dir = keeperDirOf(pid);
  if (dir === undefined) return argv;
  try {
    return readFileSync(join(dir, 'argv'), 'latin1')
      .split('\0')
      .filter((a) => a.length > 0);
  } catch {
    return argv;
  }
}

/** Live keepers (either kind, any home), each with the arguments it was started with. */
export function keeperProcesses(): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = cmdline(pid);
    if (argv.length === 0 || !isKeeperArgv(argv) || startTime(pid) === undefined) continue;
    found.push({ pid, argv: keeperArgv(pid, argv) });
  }
  return found;
}
