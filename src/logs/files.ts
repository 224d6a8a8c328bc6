// The log folders of a home, read directly (the CLI runs as the home's owner
// and needs no daemon for past lines): which entities have one, and each
// folder's files newest first. Nothing is followed through a link, and a home
// or folder that is not ours is refused, as everywhere else in ham.
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { HamError } from '../model/errors.js';
import { entityLogDir, entityOfLogFolder } from '../model/log-names.js';

const myUid = (): number => process.getuid?.() ?? 0;

function ours(path: string, st: Stats, what: string): void {
  if (st.isSymbolicLink() || !st.isDirectory() || st.uid !== myUid() || st.mode & 0o022)
    throw new HamError({
      code: 'unsafe-home',
      message: `${path}: expected ${what} of ours (uid ${myUid()}, not writable by others, not a link), got ${st.isSymbolicLink() ? 'a link' : st.isDirectory() ? `mode ${(st.mode & 0o777).toString(8)}, uid ${st.uid}` : 'not a folder'}`,
    });
}

/** The home's logs/ folder, judged; a missing one is an error that says where it looked. */
export function logsRoot(home: string): string {
  const root = join(home, 'logs');
  let st: Stats;
  try {
    ours(home, lstatSync(home), 'a home folder');
    st = lstatSync(root);
  } catch (e) {
    if (e instanceof HamError) throw e;
    throw new HamError({ code: 'unknown-entity', message: `expected a ham home with logs at ${root}, got none (${(e as NodeJS.ErrnoException).code})` });
  }
  ours(root, st, 'a logs folder');
  return root;
}

/** The entities with a log folder (each made by its keeper at its first start). */
export function loggedEntities(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => entityOfLogFolder(d.name))
    .sort();
}

/** Entity `name`'s folder, judged; unknown (no folder) is an error in the one shape. */
export function entityFolder(root: string, name: string): string {
  const dir = entityLogDir(root, name);
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    throw new HamError({
      code: 'unknown-entity',
      entity: name,
      message: `no logs for ${JSON.stringify(name)}: expected an entity that has been started under this home (no folder ${dir})`,
    });
  }
  ours(dir, st, 'a log folder');
  return dir;
}

/** The folder's log files, newest first: current, 1, 2, ... (as far as they go). */
export function logFiles(dir: string): string[] {
  const numbered = readdirSync(dir)
    .filter((f) => /^[1-9]\d{0,5}$/.test(f))
    .map(Number)
    .sort((a, b) => a - b);
  return ['current', ...numbered.map(String)].map((f) => join(dir, f));
}

/** Open a log file for reading: never through a link, only a plain file; undefined if it is not there. */
export function openLogFile(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return undefined;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return undefined;
  }
  return fd;
}
