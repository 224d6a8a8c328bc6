// Who may have written a detector: only the HAM's user (or root). A file or
// folder that anyone else can write could make the HAM run their code, so it
// is refused with the reason; so is anything that is not a regular,
// executable file.
import { constants, statSync, type Stats } from 'node:fs';

function owner(st: Stats): string | undefined {
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return `it is owned by uid ${st.uid}, not by the HAM's user (uid ${uid}) or root`;
  if (st.mode & constants.S_IWGRP) return `it is writable by its group (mode ${mode(st)})`;
  if (st.mode & constants.S_IWOTH) return `it is writable by anyone (mode ${mode(st)})`;
  return undefined;
}

const mode = (st: Stats): string => (st.mode & 0o7777).toString(8).padStart(4, '0');

/** Why the detectors folder must not be used, or undefined. */
export function folderRefusal(dir: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    return `the detectors folder ${dir} cannot be read: ${(e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isDirectory()) return `${dir} is not a folder`;
  const why = owner(st);
  return why && `the detectors folder ${dir} is refused: ${why}`;
}

/** Why this detector file must not be run, or undefined (a symlink is judged by what it points to). */
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
  if (executable && !(st.mode & constants.S_IXUSR)) return `it is not executable (mode ${mode(st)}; chmod u+x it)`;
  return undefined;
}
