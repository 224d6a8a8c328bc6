// Following logs as they are written (`ham logs -f`, the client's followLogs):
// the past lines first, then each entity's new complete lines, across
// rotations (the old file is finished, by its inode, before the new one is
// read), restarts and keeper adoptions (one file per entity, appended to by
// whichever keeper) and takeovers (nothing here talks to the HAM). Woken by
// inotify on the folders, with a slow poll in case an event is missed.
import { closeSync, fstatSync, readSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { byTime, parseLogLine, type LogLine } from './line.js';
import { entityFolder, logFiles, loggedEntities, logsRoot, openLogFile } from './files.js';
import { tailAll, tailEntity, type LogMark } from './read.js';

export interface LogQuery {
  /** One entity; absent: every entity under the home, interleaved by time. */
  name?: string;
  /** The last N past lines (default 20). */
  n?: number;
  /** Only lines at or after this time (ISO 8601). */
  since?: string;
}

export interface FollowOptions extends LogQuery {
  /** Stop following (the iterator ends). */
  signal?: AbortSignal;
  /** The slow poll behind the inotify wake-ups (default 500 ms). */
  pollMs?: number;
}

/** Read at most this much of one file per round: a big backlog comes over several rounds. */
const ROUND_BYTES = 4 << 20;

interface Followed {
  entity: string;
  dir: string;
  /** The file read so far, by inode; undefined: no current file yet (read it from its start). */
  mark: LogMark | undefined;
}

/** The past lines (as `ham logs` without -f), oldest first. */
export function readLogs(home: string, q: LogQuery = {}): LogLine[] {
  return past(home, q).lines;
}

function past(home: string, q: LogQuery): { lines: LogLine[]; followed: Followed[] } {
  const root = logsRoot(home);
  const n = q.n ?? 20;
  const names = q.name !== undefined ? [q.name] : loggedEntities(root);
  const followed: Followed[] = [];
  const tails = names.map((entity) => {
    const dir = entityFolder(root, entity);
    const t = tailEntity(dir, entity, n, q.since);
    followed.push({ entity, dir, mark: t.mark });
    return t;
  });
  return { lines: tailAll(tails, n), followed };
}

/** Complete lines of the file `path` (or an open `fd`) from `offset`: the lines and where they end. */
function readFrom(fd: number, entity: string, offset: number): { lines: LogLine[]; end: number } {
  const size = fstatSync(fd).size;
  if (size <= offset) return { lines: [], end: offset };
  const buf = Buffer.alloc(Math.min(size - offset, ROUND_BYTES));
  const got = readSync(fd, buf, 0, buf.length, offset);
  const last = buf.subarray(0, got).lastIndexOf(10);
  if (last < 0) return { lines: [], end: offset };
  const lines: LogLine[] = [];
  for (const raw of buf.toString('utf8', 0, last).split('\n')) {
    const l = parseLogLine(entity, raw);
    if (l) lines.push(l);
  }
  return { lines, end: offset + last + 1 };
}

function inoOf(path: string): number | undefined {
  const fd = openLogFile(path);
  if (fd === undefined) return undefined;
  try {
    return fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
}

/** What `f` got since it was last read (its mark moves on). */
export function readNew(f: Followed): LogLine[] {
  const out: LogLine[] = [];
  const fd = openLogFile(join(f.dir, 'current'));
  try {
    const ino = fd === undefined ? undefined : fstatSync(fd).ino;
    if (f.mark && f.mark.ino !== ino) {
      // Rotated: the rest of the file we were reading (now numbered), then the newer numbered ones.
      const older = logFiles(f.dir).slice(1);
      const at = older.findIndex((p) => inoOf(p) === f.mark!.ino);
      for (let k = at; k >= 0; k--) {
        const ofd = openLogFile(older[k]!);
        if (ofd === undefined) continue;
        try {
          let off = k === at ? f.mark.offset : 0;
          for (;;) {
            const r = readFrom(ofd, f.entity, off);
            out.push(...r.lines);
            if (r.end === off) break;
            off = r.end;
          }
        } finally {
          closeSync(ofd);
        }
      }
      f.mark = undefined;
    }
    if (fd === undefined || ino === undefined) return out;
    const r = readFrom(fd, f.entity, f.mark?.offset ?? 0);
    out.push(...r.lines);
    f.mark = { ino, offset: r.end };
    return out;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The past lines, then every new line as it is written, until `signal` aborts. */
export async function* followLogs(home: string, opts: FollowOptions = {}): AsyncGenerator<LogLine> {
  const root = logsRoot(home);
  const { lines, followed } = past(home, opts);
  yield* lines;
  const watchers: FSWatcher[] = [];
  let wake: (() => void) | undefined;
  let kicked = false; // an event while reading: read again before waiting
  const kick = (): void => {
    kicked = true;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const watchDir = (dir: string): void => {
    try {
      watchers.push(watch(dir, { persistent: false }, kick).on('error', () => undefined));
    } catch {
      /* the slow poll covers it */
    }
  };
  for (const f of followed) watchDir(f.dir);
  if (opts.name === undefined) watchDir(root);
  opts.signal?.addEventListener('abort', kick);
  try {
    while (!opts.signal?.aborted) {
      kicked = false;
      if (opts.name === undefined) {
        // Entities started since: all their lines are new.
        for (const entity of loggedEntities(root))
          if (!followed.some((f) => f.entity === entity)) {
            const dir = entityFolder(root, entity);
            followed.push({ entity, dir, mark: undefined });
            watchDir(dir);
          }
      }
      const round = followed.flatMap(readNew);
      if (followed.length > 1) round.sort(byTime);
      yield* round;
      if (round.length > 0 || kicked) continue; // more may be there (a big backlog is read in rounds)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.pollMs ?? 500);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    for (const w of watchers) w.close();
  }
}
