// Past lines: the last N of one entity's files (newest file first, read from
// the end in chunks, so `-n 20` of a big log reads a few KiB), optionally only
// those since a time, and where a follower goes on from.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { byTime, parseLogLine, type LogLine } from './line.js';
import { logFiles, openLogFile } from './files.js';

const CHUNK = 64 * 1024;

/** Where the newest file ended when it was read: a follower starts there (nothing twice, nothing missed). */
export interface LogMark {
  ino: number;
  offset: number;
}

export interface Tail {
  lines: LogLine[];
  /** undefined: there was no current file yet. */
  mark: LogMark | undefined;
}

/** Where the file's last complete line ends (a line being written is not read: it comes whole later). */
function lastNewline(fd: number, size: number): number {
  for (let pos = size; pos > 0;) {
    const n = Math.min(CHUNK, pos);
    pos -= n;
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, pos);
    const nl = buf.lastIndexOf(10);
    if (nl >= 0) return pos + nl + 1;
  }
  return 0;
}

/** The lines of the file at `fd` before `end` (a line's end), last first, until `take` says stop. */
function backwards(fd: number, end: number, entity: string, take: (l: LogLine) => boolean): void {
  let pos = end;
  let rest = Buffer.alloc(0);
  while (pos > 0) {
    const n = Math.min(CHUNK, pos);
    pos -= n;
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, pos);
    const data = rest.length ? Buffer.concat([buf, rest]) : buf;
    let e = data.length; // data[e - 1] ends a line
    while (e > 0) {
      const nl = e >= 2 ? data.lastIndexOf(10, e - 2) : -1;
      if (nl < 0 && pos > 0) break; // the line starts in the chunk before
      const l = parseLogLine(entity, data.toString('utf8', nl + 1, e - 1));
      e = nl + 1;
      if (l && !take(l)) return;
    }
    rest = Buffer.from(data.subarray(0, e));
  }
}

/** The last `n` lines of an entity (with `since`: of those at or after it), oldest first. */
export function tailEntity(dir: string, entity: string, n: number, since?: string): Tail {
  const out: LogLine[] = [];
  let mark: LogMark | undefined;
  let done = false;
  for (const path of logFiles(dir)) {
    const fd = openLogFile(path);
    if (fd === undefined) continue;
    try {
      const st = fstatSync(fd);
      const end = lastNewline(fd, st.size);
      if (path.endsWith('/current')) mark = { ino: st.ino, offset: end };
      backwards(fd, end, entity, (l) => {
        if (out.length >= n || (since !== undefined && l.time < since)) return !(done = true);
        out.push(l);
        return true;
      });
    } finally {
      closeSync(fd);
    }
    if (done) break;
  }
  return { lines: out.reverse(), mark };
}

/** The last `n` lines over several entities, interleaved by time. */
export function tailAll(tails: Tail[], n: number): LogLine[] {
  const all = tails.flatMap((t) => t.lines).sort(byTime);
  return n === 0 ? [] : all.slice(-n);
}
