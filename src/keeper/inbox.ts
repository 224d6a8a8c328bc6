// The keepers' inbox: each record is one file `ID-SERIAL-SEQ`, renamed into
// place whole, so a reader never sees half a record. inotify (fs.watch) wakes
// the HAM; a full scan on takeover picks up whatever arrived while no HAM ran.
// Whatever else is there (records.ts says what is a record) is reported and
// removed: nothing in the inbox may stall or crash the HAM.
import { lstatSync, readdirSync, rmSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseName, readRecordFile, type KeeperRecord } from './records.js';

export { parseRecord, type KeeperRecord } from './records.js';

export interface InboxItem {
  id: number;
  serial: number;
  seq: number;
  file: string;
  record: KeeperRecord;
}

/** What the consumer did with an item: applied → file removed; `later` → kept; `drop` → reported and removed. */
export type Verdict = 'done' | 'later' | { drop: string };

/** Files looked at per drain: a flood of junk is worked through over several turns, not in one. */
const FILES_PER_DRAIN = 4096;

/** A keeper renames its temp file into place at once: one older than this is from a keeper killed mid-write. */
const TEMP_STALE_MS = 10 * 60_000;

export class Inbox {
  private watcher: FSWatcher | undefined;
  private scheduled = false;
  /** Where the next slice of a big inbox starts: the same first slice is not read every turn. */
  private offset = 0;

  constructor(
    private readonly dir: string,
    private readonly consume: (item: InboxItem) => Verdict,
    private readonly report: (file: string, why: string, level: 'info' | 'warn') => void,
  ) {}

  start(): void {
    try {
      this.watcher = watch(this.dir, () => this.schedule());
      this.watcher.on('error', () => undefined);
    } catch (e) {
      this.report(this.dir, `the inbox cannot be watched: ${(e as Error).message}`, 'warn');
    }
    this.drain();
  }

  close(): void {
    this.watcher?.close();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Hand every complete record to the consumer in (id, serial, seq) order. */
  drain(): void {
    let files: string[];
    try {
      files = readdirSync(this.dir);
    } catch (e) {
      this.report(this.dir, `the inbox cannot be read: ${(e as Error).message}`, 'warn');
      return;
    }
    if (files.length > FILES_PER_DRAIN) {
      const from = this.offset % files.length;
      files = [...files.slice(from), ...files.slice(0, from)].slice(0, FILES_PER_DRAIN);
      this.offset = from + FILES_PER_DRAIN;
      this.schedule(); // the rest next turn
    } else this.offset = 0;
    const items: InboxItem[] = [];
    for (const file of files) {
      const name = parseName(file);
      const path = join(this.dir, file);
      if (name === 'temp') {
        if (this.staleTemp(path)) this.drop(path, file, `a temp file older than ${TEMP_STALE_MS / 60_000} minutes (its keeper died while writing it)`, 'info');
        continue; // else a keeper is writing it
      }
      if (!name) {
        this.drop(path, file, 'not named ID-SERIAL-SEQ');
        continue;
      }
      const r = readRecordFile(path);
      if ('gone' in r) continue; // consumed by a concurrent drain
      if ('bad' in r) {
        this.drop(path, file, r.bad);
        continue;
      }
      items.push({ ...name, file, record: r.record });
    }
    items.sort((a, b) => a.id - b.id || a.serial - b.serial || a.seq - b.seq);
    for (const item of items) {
      const path = join(this.dir, item.file);
      let v: Verdict;
      try {
        v = this.consume(item);
      } catch (e) {
        v = { drop: `applying it failed: ${(e as Error).message}` };
      }
      if (v === 'later') continue;
      if (v === 'done') this.remove(path);
      else this.drop(path, item.file, v.drop, 'info'); // stale: a keeper let go, a record applied twice
    }
  }

  private staleTemp(path: string): boolean {
    try {
      return Date.now() - lstatSync(path).mtimeMs > TEMP_STALE_MS;
    } catch {
      return false; // renamed into place meanwhile
    }
  }

  private drop(path: string, file: string, why: string, level: 'info' | 'warn' = 'warn'): void {
    this.report(file, why, level);
    this.remove(path);
  }

  private remove(path: string): void {
    try {
      unlinkSync(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR' || code === 'EPERM') {
        try {
          rmSync(path, { recursive: true, force: true });
        } catch {
          /* reported already; tried again at the next drain */
        }
      }
      /* ENOENT: already gone */
    }
  }
}
