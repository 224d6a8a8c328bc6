// The keepers' inbox: each record is one file `ID-SERIAL-SEQ`, renamed into
// place whole, so a reader never sees half a record. inotify (fs.watch) wakes
// the HAM with the file's name; a full scan on takeover picks up whatever
// arrived while no HAM ran, and a sweep after activity whatever inotify dropped.
// Whatever else is there (records.ts says what is a record) is reported and
// removed: nothing in the inbox may stall or crash the HAM. A poke
// `ID-SERIAL-r` (ready-state.ts) is no record: removed, then handed on.
import { lstatSync, readdirSync, rmSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parseName, readRecordFile, type KeeperRecord } from './records.js';
import { parsePoke } from './ready-state.js';

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

/** Applying records stops after this long in one turn (the rest is read again next turn): a burst of
 * thousands of starts is thousands of records, and one turn of them all starved the hang probe. */
const APPLY_BUDGET_MS = 20;

/** After activity, the whole folder is read this often (what an inotify overflow dropped is found then). */
const SWEEP_MS = 250;

/** Removals remembered so that their own inotify events do not each cause a drain. */
const MAX_REMEMBERED = 65_536;

/** A keeper renames its temp file into place at once: one older than this is from a keeper killed mid-write. */
const TEMP_STALE_MS = 10 * 60_000;

export class Inbox {
  private watcher: FSWatcher | undefined;
  private scheduled = false;
  /** Where the next slice of a big inbox starts: the same first slice is not read every turn. */
  private offset = 0;
  /** Records this inbox removed, until inotify reports their removal (names are never reused). */
  private readonly removed = new Set<string>();
  /** Records named by events since the last pass; `full`: read the whole folder instead. */
  private readonly named = new Set<string>();
  private full = false;
  /** Records judged `later` (an earlier one of their keeper not applied yet): read again at the next pass. */
  private readonly waiting = new Set<string>();
  private sweep: NodeJS.Timeout | undefined;
  private eventsSinceSweep = false;
  /** Sweeps run (a figure for stats and tests). */
  sweeps = 0;

  constructor(
    private readonly dir: string,
    private readonly consume: (item: InboxItem) => Verdict,
    private readonly report: (file: string, why: string, level: 'info' | 'warn') => void,
    /** Keeper `serial` of entity `id` has news of its readiness (its poke is removed first). */
    private readonly poked: (id: number, serial: number) => void = () => undefined,
  ) {}

  start(): void {
    try {
      this.watcher = watch(this.dir, (_event, file) => this.noticed(file));
      this.watcher.on('error', () => undefined);
    } catch (e) {
      this.report(this.dir, `the inbox cannot be watched: ${(e as Error).message}`, 'warn');
    }
    this.drain();
  }

  close(): void {
    this.watcher?.close();
    if (this.sweep) clearTimeout(this.sweep);
    this.sweep = undefined;
  }

  /**
   * An event names the file: a record is read by its name (a pass), and the whole
   * folder is read (a drain) only for a name that is no record, at start, when asked,
   * and as a sweep after activity: inotify drops events silently when its queue
   * overflows (libuv does not report IN_Q_OVERFLOW), and at ten thousand starts a
   * drain per event was a readdir of thousands of names each, under the folder's lock
   * the keepers write through. A keeper's temp file and our own removals are no news.
   */
  private noticed(file: string | null): void {
    if (file !== null && this.removed.delete(file)) return;
    this.armSweep();
    const name = file === null ? null : parseName(file);
    if (name === 'temp') return;
    if ((name || parsePoke(file!)) && this.named.size < FILES_PER_DRAIN) this.named.add(file!);
    else this.full = true;
    this.schedule();
  }

  /** A drain SWEEP_MS after the first event, again while events keep coming (none when idle). */
  private armSweep(): void {
    this.eventsSinceSweep = true;
    if (this.sweep) return;
    this.eventsSinceSweep = false;
    this.sweep = setTimeout(() => {
      this.sweep = undefined;
      this.sweeps += 1;
      this.drain(true);
      if (this.eventsSinceSweep) this.armSweep();
    }, SWEEP_MS);
    this.sweep.unref();
  }

  /** A sweep is armed (it runs within SWEEP_MS): a figure for stats and tests. */
  get sweepPending(): boolean {
    return this.sweep !== undefined;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.full) this.drain(true);
      else this.pass();
    });
  }

  /** The records named by events, and those that waited for an earlier one. */
  private pass(): void {
    const files = [...this.named, ...this.waiting];
    this.named.clear();
    this.waiting.clear();
    this.handle(files, true);
  }

  /** Hand every complete record to the consumer in (id, serial, seq) order. */
  drain(budgeted = false): void {
    this.full = false;
    this.named.clear();
    this.waiting.clear();
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
      this.full = true;
      this.schedule(); // the rest next turn
    } else this.offset = 0;
    this.handle(files, budgeted);
  }

  /**
   * `budgeted` (passes and sweeps, driven by events): stop after APPLY_BUDGET_MS, the rest
   * next turn. An explicit drain (a keeper gone: what it wrote comes first) applies all.
   */
  private handle(files: string[], budgeted: boolean): void {
    const items: InboxItem[] = [];
    for (const file of files) {
      const name = parseName(file);
      const path = join(this.dir, file);
      if (name === 'temp') {
        if (this.staleTemp(path)) this.drop(path, file, `a temp file older than ${TEMP_STALE_MS / 60_000} minutes (its keeper died while writing it)`, 'info');
        continue; // else a keeper is writing it
      }
      const poke = name ? null : parsePoke(file);
      if (poke) {
        this.removeApplied(path, file); // before reading the state: a newer poke meanwhile is news again
        try {
          this.poked(poke.id, poke.serial);
        } catch (e) {
          this.report(file, `applying its readiness failed: ${(e as Error).message}`, 'warn');
        }
        continue;
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
    const until = performance.now() + APPLY_BUDGET_MS;
    for (const [i, item] of items.entries()) {
      if (budgeted && performance.now() > until) {
        for (const rest of items.slice(i)) this.named.add(rest.file);
        this.schedule();
        return;
      }
      const path = join(this.dir, item.file);
      let v: Verdict;
      try {
        v = this.consume(item);
      } catch (e) {
        v = { drop: `applying it failed: ${(e as Error).message}` };
      }
      if (v === 'later') {
        if (this.waiting.size < FILES_PER_DRAIN) this.waiting.add(item.file); // else the next sweep finds it
        continue;
      }
      if (v === 'done') this.removeApplied(path, item.file);
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

  /** An applied record: removed now (an unlink in the thread pool cost more of this loop's CPU, in wake-ups). */
  private removeApplied(path: string, file: string): void {
    if (this.removed.size >= MAX_REMEMBERED) this.removed.clear(); // at worst a few drains more
    this.removed.add(file);
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
