// Keepers not heard of yet, watched by pid: a keeper that dies before its
// first record never opened its life FIFO, and where this process is not its
// parent (its launcher died, an earlier launcher or HAM started it) no exit
// tells either. Each is polled by pid and start time (a reused pid is not
// taken for it) until its first record settles it or it is gone: never given
// up on, as a keeper dropped while alive (held before its exec, stopped, stuck
// before its first record) that died later left its entity `starting` for
// good. Its first stretch (`forMs`) is polled often; after it, seldom.
import type { ProcId } from '../proc/procfs.js';
import { startTime } from '../proc/procfs.js';

const POLL_MS = 250;
/** After a watch's first stretch: a keeper that long without a record is stuck; its end may be seen late. */
export const SLOW_POLL_MS = 5000;

interface Watched extends ProcId {
  /** Polled every POLL_MS until then, every slowPollMs after. */
  fastUntil: number;
  next: number;
  onGone: () => void;
}

export interface PidWatchOptions {
  /** The first stretch at most this long, whatever the caller asks (tests). */
  fastMaxMs?: number;
  slowPollMs?: number;
}

export class PidWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private due = Infinity;

  constructor(private readonly o: PidWatchOptions = {}) {}

  /** Call `onGone` once when keeper `tag` (process `id`) dies, unless settled first; polled often for `forMs`. */
  watch(tag: string, id: ProcId, forMs: number, onGone: () => void): void {
    const now = Date.now();
    const fastUntil = now + Math.min(forMs, this.o.fastMaxMs ?? Infinity);
    this.watched.set(tag, { pid: id.pid, start: id.start, fastUntil, next: now + POLL_MS, onGone });
    this.schedule();
  }

  /** Keeper `tag`'s first record is in: its life FIFO tells from now on. */
  settle(tag: string): void {
    this.watched.delete(tag);
    if (this.watched.size === 0) this.close();
  }

  has(tag: string): boolean {
    return this.watched.has(tag);
  }

  /** How many are past their first stretch (status, tests). */
  slow(): number {
    const now = Date.now();
    return [...this.watched.values()].filter((k) => now > k.fastUntil).length;
  }

  close(): void {
    this.watched.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Infinity;
  }

  /** One timer, at the earliest poll due (none while nothing is watched: no idle wake-ups). */
  private schedule(): void {
    let next = Infinity;
    for (const k of this.watched.values()) next = Math.min(next, k.next);
    if (next === this.due && this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.poll(), Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  private poll(): void {
    this.timer = undefined;
    this.due = Infinity;
    const now = Date.now();
    for (const [tag, k] of this.watched) {
      if (k.next > now) continue;
      if (!(k.pid > 0) || startTime(k.pid) !== k.start) {
        this.watched.delete(tag);
        k.onGone();
      } else k.next = now + (now < k.fastUntil ? POLL_MS : (this.o.slowPollMs ?? SLOW_POLL_MS));
    }
    this.schedule();
  }
}
