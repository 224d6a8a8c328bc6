// What ham opens under its home must be its own: owned by ham's user, not a
// symbolic link, not writable by anyone else. Otherwise another user could
// point `logs` at a file of their choosing (root would write there), or swap
// the store under the HAM. Each problem refuses the start with the path,
// what is wrong, and how to fix it.
//
// A home we own with a loose mode (group/others may read or write it) is
// tightened to 0700 only if nothing in it belongs to someone else: it is
// scanned, tightened, and scanned again (what appeared between the two scans
// is caught by the second; after the chmod nobody else can add anything).
// A home holding another user's files is refused, not tightened.
import { closeSync, constants as fsc, chmodSync, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { HamError } from './errors.js';

/** Entries looked at in one scan: a home is small; a scan must be bounded anyway. */
const SCAN_MAX = 100_000;

const myUid = (): number => process.getuid?.() ?? 0;
const mode = (st: Stats): string => (st.mode & 0o7777).toString(8).padStart(4, '0');

function typeOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFile()) return 'a file';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  return 'a device or other special file';
}

function unsafe(path: string, what: string, fix: string): HamError {
  return new HamError({ code: 'unsafe-home', message: `${path}: ${what}; ${fix}` });
}

export type Expected = 'folder' | 'file' | 'socket' | 'any';

/** lstat, or undefined when nothing is there. */
function look(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unsafe(path, `cannot be examined (${(e as NodeJS.ErrnoException).code})`, 'check its permissions');
  }
}

/** The problem with what is at `path`, as an error to throw, or undefined (nothing there is fine: ham makes it). */
export function pathProblem(path: string, expected: Expected, st = look(path)): HamError | undefined {
  if (!st) return undefined;
  const uid = myUid();
  if (st.isSymbolicLink()) {
    let to = '?';
    try {
      to = readlinkSync(path);
    } catch {
      /* gone meanwhile */
    }
    return unsafe(path, `it is a symbolic link (to ${to}, owned by uid ${st.uid}); ham follows no links in its home`, `remove it (rm ${path}) and start again`);
  }
  if (st.uid !== uid)
    return unsafe(path, `it is owned by uid ${st.uid}, not by ham's user (uid ${uid})`, `remove it if you did not put it there, or chown it to uid ${uid}`);
  const kind = expected === 'folder' ? st.isDirectory() : expected === 'file' ? st.isFile() : expected === 'socket' ? st.isSocket() : true;
  if (!kind) return unsafe(path, `expected ${expected === 'folder' ? 'a folder' : `a ${expected}`}, it is ${typeOf(st)}`, 'remove it and start again');
  if (st.mode & 0o022) return unsafe(path, `it is writable by ${st.mode & 0o002 ? 'anyone' : 'its group'} (mode ${mode(st)})`, `chmod go-w ${path}`);
  // Another name for the same file may be outside the home (written through by us, read by whoever made it).
  if (st.isFile() && st.nlink > 1) return unsafe(path, `it has ${st.nlink} hard links`, `remove it if you did not make them`);
  return undefined;
}

export function checkPath(path: string, expected: Expected): void {
  const p = pathProblem(path, expected);
  if (p) throw p;
}

/** Every entry under `dir` (not `dir` itself), depth first (or only those right in it), bounded. */
function* walk(dir: string, budget: { left: number }, deep = true): Generator<[string, Stats]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // gone, or not a folder: judged by the caller
  }
  for (const n of names) {
    if (--budget.left < 0) throw unsafe(dir, `holds more than ${SCAN_MAX} entries to check`, 'clean it up');
    const path = join(dir, n);
    const st = look(path);
    if (!st) continue;
    yield [path, st];
    if (deep && st.isDirectory()) yield* walk(path, budget);
  }
}

/** Every entry under `dir` is ours (whatever its mode): the test for tightening a loose home. */
function foreignEntry(dir: string): HamError | undefined {
  const uid = myUid();
  for (const [path, st] of walk(dir, { left: SCAN_MAX })) {
    if (st.uid !== uid)
      return unsafe(
        path,
        `it is owned by uid ${st.uid}, in a home others could write into`,
        `remove it (the home is left as it is until nothing in it belongs to someone else)`,
      );
  }
  return undefined;
}

/**
 * The home folder itself: ours, not a link; a loose mode tightened when that
 * is safe (`tighten`; a Guardian, started by a HAM that judged it, does not).
 */
export function checkHomeRoot(root: string, tighten = true): void {
  const st = look(root);
  if (!st) throw unsafe(root, 'does not exist', 'create it');
  if (st.isSymbolicLink()) throw unsafe(root, `the home is a symbolic link (to ${readlinkSync(root)})`, 'use the folder it points to as --home');
  if (!st.isDirectory()) throw unsafe(root, `expected a folder, it is ${typeOf(st)}`, 'choose another --home');
  if (st.uid !== myUid()) throw unsafe(root, `the home belongs to uid ${st.uid}, expected ${myUid()}`, 'use a home of your own');
  if ((st.mode & 0o077) === 0 || !tighten) return;
  const before = foreignEntry(root);
  if (before) throw before;
  chmodSync(root, 0o700);
  const after = foreignEntry(root);
  if (after) throw after;
}

/** A folder ham uses: judged if there, made 0700 if not (and judged again: it may have raced us). */
export function ensureFolder(path: string): void {
  checkPath(path, 'folder');
  try {
    lstatSync(path);
  } catch {
    try {
      // Not recursive: the parent is one we have judged already.
      mkdirSync(path, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  checkPath(path, 'folder');
}

/** Judge `dir` and everything under it (what ham itself made there: logs, the store's files). */
export function checkTree(dir: string): void {
  checkPath(dir, 'folder');
  for (const [path, st] of walk(dir, { left: SCAN_MAX })) {
    const p = pathProblem(path, 'any', st);
    if (p) throw p;
  }
}

/** The entries right in `dir` (not below), bounded. */
function children(dir: string): [string, Stats][] {
  return [...walk(dir, { left: SCAN_MAX }, false)];
}

/**
 * run/ as ham uses it: the folders it opens (run/, the inbox, the keepers'
 * folder and each keeper's folder with its FIFOs, the detectors' folder and
 * each detector's state folder itself). Not what a check keeps in its own
 * state folder (ham never opens it), nor the inbox's files: its reader
 * reports and removes whatever is not a record (links, FIFOs, big files).
 */
export function checkRun(run: string, inbox: string, keepers: string): void {
  checkPath(run, 'folder');
  const detectors = join(run, 'detectors');
  for (const [path, st] of children(run)) {
    const p = pathProblem(path, path === inbox || path === keepers || path === detectors ? 'folder' : 'any', st);
    if (p) throw p;
  }
  for (const [dir, st] of children(keepers)) {
    const p = pathProblem(dir, 'folder', st);
    if (p) throw p;
    for (const [path, fst] of children(dir)) {
      const q = pathProblem(path, 'any', fst);
      if (q) throw q;
    }
  }
  for (const [dir, st] of children(detectors)) {
    const p = pathProblem(dir, 'folder', st);
    if (p) throw p;
  }
}

/**
 * Open a log for appending, never through a link, and only if it is ours
 * (a log is opened after the start's checks too: keepers, actions).
 */
export function openLog(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NOCTTY, 0o600);
  } catch (e) {
    throw (e as NodeJS.ErrnoException).code === 'ELOOP' ? (pathProblem(path, 'file') ?? e) : e;
  }
  const st = fstatSync(fd);
  const p = st.uid !== myUid() || !st.isFile() || st.mode & 0o022 || st.nlink > 1 ? pathProblem(path, 'file', st) : undefined;
  if (p) {
    closeSync(fd);
    throw p;
  }
  return fd;
}
