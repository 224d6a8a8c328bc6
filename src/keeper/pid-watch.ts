// Keepers not heard of yet, watched by pid: a keeper that dies before its
// first record never opened its life FIFO, and where this process is not its
// parent (its launcher died, an earlier launcher or HAM started it) no exit
// tells either. Each is polled by pid and start time (a reused pid is not
// taken for it) until its first record settles it, it is gone, or its bound.
import type { ProcId } from '../proc/procfs.js';
import { startTime } from '../proc/procfs.js';

const POLL_MS = 250;

interface Watched extends ProcId {
  until: number;
  onGone: () => void;
}

export class PidWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;

  /** Call `onGone` once if keeper `tag` (process `id`) dies within `forMs`, unless settled first. */
  watch(tag: string, id: ProcId, forMs: number, onGone: () => void): void {
    this.watched.set(tag, { ...id, until: Date.now() + forMs, onGone });
    if (this.timer) return;
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** Keeper `tag`'s first record is in: its life FIFO tells from now on. */
  settle(tag: string): void {
    this.watched.delete(tag);
  }

  has(tag: string): boolean {
    return this.watched.has(tag);
  }

  close(): void {
    this.watched.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private poll(): void {
    const now = Date.now();
    for (const [tag, k] of this.watched) {
      const gone = !(k.pid > 0) || startTime(k.pid) !== k.start;
      if (gone || now > k.until) this.watched.delete(tag);
      if (gone) k.onGone();
    }
    if (this.watched.size === 0) this.close();
  }
}
