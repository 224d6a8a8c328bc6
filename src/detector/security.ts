// Who may have written a detector: only the HAM's user (or root). A file or
// folder that anyone else can write could make the HAM run their code, so it
// is refused with the reason; so is anything that is not a regular,
// executable file.
import { constants, lstatSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

function owner(st: Stats): string | undefined {
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `it is owned by uid ${st.uid}, not by the HAM's user (uid ${uid}) or root`;
  if (st.mode & constants.S_IWOTH) return `it is writable by anyone (mode ${mode(st)})`;
  if (st.mode & constants.S_IWGRP) return `it is writable by its group (mode ${mode(st)})`;
  return undefined;
}

const mode = (st: Stats): string => (st.mode & 0o7777).toString(8).padStart(4, '0');

/**
 * Why the detectors folder must not be used, or undefined. As sshd's
 * StrictModes, every folder above it up to / counts too (whoever can write
 * one can swap what is below it), both along the path as given and along
 * the path its links resolve to. A folder others may write is accepted above
 * it only with the sticky bit (as /tmp): there, nobody can rename or remove
 * what they do not own. Judged again before every run.
 */
export function folderRefusal(dir: string): string | undefined {
  let st: Stats;
  let real: string;
  try {
    st = statSync(dir);
    real = realpathSync(dir);
  } catch (e) {
    return `the detectors folder ${dir} cannot be read: ${(e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isDirectory()) return `${dir} is not a folder`;
  const why = owner(st);
  if (why) return `the detectors folder ${dir} is refused: ${why}`;
  for (const start of new Set([dir, real])) {
    for (let p = dirname(start), prev = start; p !== prev; prev = p, p = dirname(p)) {
      const up = aboveRefusal(p);
      if (up) return `the detectors folder ${dir} is refused: the folder ${p} above it ${up} (fix it, or set another folder with ham start --detectors DIR)`;
    }
  }
  return undefined;
}

/** A folder above the detectors folder (or a link on the way to it). */
function aboveRefusal(p: string): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(p);
  } catch (e) {
    return `cannot be read: ${(e as NodeJS.ErrnoException).code}`;
  }
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `is owned by uid ${st.uid}, not by the HAM's user (uid ${uid}) or root`;
  if (st.isSymbolicLink()) return undefined; // a link's own mode means nothing; where it leads is judged on the resolved path
  if (st.mode & 0o1000) return undefined; // sticky
  if (st.mode & constants.S_IWOTH) return `is writable by anyone (mode ${mode(st)}) without the sticky bit`;
  if (st.mode & constants.S_IWGRP) return `is writable by its group (mode ${mode(st)}) without the sticky bit`;
  return undefined;
}

/** Why this detector file must not be run, or undefined (a symlink is judged by what it points to, and the folders that lead there). */
export function fileRefusal(path: string, executable = true): string | undefined {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    return `it cannot be read: ${(e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isFile()) return 'it is not a regular file';
  const why = owner(st);
  if (why) return why;
  const link = linkRefusal(path);
  if (link) return link;
  if (executable && !(st.mode & constants.S_IXUSR)) return `it is not executable (mode ${mode(st)}; chmod u+x it)`;
  return undefined;
}

/**
 * A detector that is a symbolic link: the folders above each link on the way
 * and above the file it ends at are judged as those above the detectors
 * folder (whoever can write one of them can swap what the HAM runs).
 */
function linkRefusal(path: string): string | undefined {
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    let next: string;
    try {
      if (!lstatSync(p).isSymbolicLink()) return undefined;
      next = resolve(dirname(p), readlinkSync(p));
    } catch (e) {
      return `it cannot be read: ${(e as NodeJS.ErrnoException).code}`;
    }
    let real = next;
    try {
      real = realpathSync(next);
    } catch {
      /* judged along the path as given; statSync above reached the end */
    }
    for (const start of new Set([next, real])) {
      for (let q = dirname(start), prev = start; q !== prev; prev = q, q = dirname(q)) {
        const up = aboveRefusal(q);
        if (up) return `it links to ${real}, and the folder ${q} on the way there ${up}`;
      }
    }
    p = next;
  }
  return 'it is a chain of more than 40 symbolic links';
}
