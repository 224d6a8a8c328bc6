// Where a log folder's lines wait to be written, off the HAM's loop: a
// chatty command (an execute action, a readiness command) must not stall it
// with a synchronous open/write/close per chunk, nor a log that blocks (a
// slow disk, a FIFO put where `current` was). One sink per folder, so lines of
// several writers keep their order and one append runs at a time; what comes
// meanwhile is written by the next append, in one write. Bounded: beyond
// PENDING_MAX_BYTES waiting, lines are dropped and counted, and said in one
// `ham` line once writing works again, as the keepers do (keeper-log.c).
import { constants as fsc } from 'node:fs';
import { lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogPolicy } from '../model/records.js';

/** Bytes of lines that may wait for one folder; more is dropped (counted). */
export const PENDING_MAX_BYTES = 1 << 20;

/** O_NONBLOCK: a FIFO without a reader fails the open (ENXIO) instead of blocking a thread for good. */
const FLAGS = fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;

const sinks = new Map<string, Sink>();
/** Folders whose sink went idle with lines dropped and not yet said: the count, said by the folder's next sink. */
const carried = new Map<string, { n: number; why: string }>();
/** Bound on `carried` (a folder never written again keeps no sink; past this, the oldest counts are forgotten). */
export const CARRIED_MAX = 1024;

/** The sink of `dir` (made on first use, forgotten once idle; a drop count not yet said goes to the next one). */
export function sinkOf(dir: string, policy: LogPolicy): Sink {
  let s = sinks.get(dir);
  if (!s) {
    sinks.set(dir, (s = new Sink(dir, policy)));
    const c = carried.get(dir);
    if (c) s.drop(c.n, c.why);
    carried.delete(dir);
  } else s.policy = policy; // the latest writer's policy, as the folder's last start has it
  return s;
}

/** How many sinks and carried counts are held (tests: nothing is kept for an idle folder but its count). */
export function sinksHeld(): { sinks: number; carried: number } {
  return { sinks: sinks.size, carried: carried.size };
}

function carry(dir: string, n: number, why: string): void {
  carried.delete(dir);
  carried.set(dir, { n, why });
  if (carried.size > CARRIED_MAX) carried.delete(carried.keys().next().value!);
}

/** A line waiting, or a note of `noted` lines dropped before it (counted again if it cannot be written either). */
interface Waiting {
  text: string;
  noted: number;
}

export class Sink {
  private lines: Waiting[] = [];
  private bytes = 0;
  private writing: Promise<void> | undefined;
  /** Lines dropped since the last one that waits, and why: said before the next line that does. */
  private dropped = 0;
  private why = '';

  constructor(
    private readonly dir: string,
    public policy: LogPolicy,
  ) {}

  /** No room for more: a writer drops its next lines without formatting them. */
  full(): boolean {
    return this.bytes >= PENDING_MAX_BYTES;
  }

  drop(n: number, why = `more than ${PENDING_MAX_BYTES} bytes waiting to be written`): void {
    this.dropped += n;
    this.why = why;
  }

  push(line: string): void {
    if (this.bytes + line.length > PENDING_MAX_BYTES) return this.drop(1);
    if (this.dropped > 0) this.lines.push(this.note(this.dropped, this.why));
    this.dropped = 0;
    this.lines.push({ text: line, noted: 0 });
    this.bytes += line.length;
    void this.flush();
  }

  /** Resolves once everything pushed so far is written (or dropped). */
  flush(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.lines.length === 0) return Promise.resolve();
    this.writing = this.run(); // it awaits before it ends: `writing` is set first
    return this.writing;
  }

  private note(n: number, why: string): Waiting {
    return { text: `${stamp()} ham 0 [ham: ${n} lines dropped: the log could not be written (${why})]\n`, noted: n };
  }

  private async run(): Promise<void> {
    try {
      while (this.lines.length > 0) {
        const batch = this.lines;
        this.lines = [];
        this.bytes = 0;
        const failed = await this.append(batch);
        if (failed === undefined) continue;
        // Never fails the run: counted (notes in it with what they counted), said before the next line.
        const n = batch.reduce((sum, w) => sum + (w.noted || 1), 0);
        if (this.lines.length > 0) this.lines.unshift(this.note(n, failed));
        else this.drop(n, failed);
      }
    } finally {
      // In the same turn as the loop's last check: a push from now on starts a new run.
      this.writing = undefined;
      sinks.delete(this.dir);
      if (this.dropped > 0) carry(this.dir, this.dropped, this.why);
    }
  }

  /** One batch, rotated at maxBytes as the keepers do; undefined if written, else why not. */
  private async append(lines: Waiting[]): Promise<string | undefined> {
    let fh: FileHandle | undefined;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const st = await lstat(this.dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) throw Object.assign(new Error('not our folder'), { code: 'EPERM' });
      fh = await this.openCurrent();
      let size = (await fh.stat()).size;
      let batch: string[] = [];
      let batchBytes = 0;
      for (const { text } of lines) {
        const n = Buffer.byteLength(text);
        if (size + batchBytes + n > this.policy.maxBytes && size + batchBytes > 0) {
          if (batch.length > 0) await fh.write(batch.join(''));
          batch = [];
          batchBytes = 0;
          await fh.close();
          fh = undefined;
          await this.rotate();
          fh = await this.openCurrent();
          size = 0;
        }
        batch.push(text);
        batchBytes += n;
      }
      await fh.write(batch.join(''));
      return undefined;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? String(e);
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  private async openCurrent(): Promise<FileHandle> {
    const fh = await open(join(this.dir, 'current'), FLAGS, 0o600);
    if (!(await fh.stat()).isFile()) {
      await fh.close();
      throw Object.assign(new Error('not a plain file'), { code: 'EINVAL' });
    }
    return fh;
  }

  private async rotate(): Promise<void> {
    const at = (f: string | number): string => join(this.dir, String(f));
    const move = (from: string, to: string): Promise<void> => rename(from, to).catch(() => undefined); // not there
    for (let i = this.policy.keep - 1; i >= 1; i--) await move(at(i), at(i + 1));
    if (this.policy.keep > 0) await move(at('current'), at(1));
    else await unlink(at('current'));
  }
}

export function stamp(): string {
  return new Date().toISOString();
}
