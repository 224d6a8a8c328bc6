// Backpressure on the control socket. A client may pipeline requests as fast
// as it can write; without a bound each one would wait in memory (a raise
// flood took the HAM to hundreds of MiB). Here a connection has at most
// PER_CONNECTION requests in flight and all of them TOTAL; past that, or
// while its replies are not being read (WRITE_HIGH bytes unsent), we stop
// reading it (the kernel's socket buffer then blocks the writer) and go on
// when requests finish or the socket drains. Memory per connection is then
// one read chunk of decoded frames plus its requests in flight. Fair: a
// connection with nothing in flight always gets one request served, and those
// waiting for a slot get it before a flooder refills its own.
import type { Socket } from 'node:net';

export const PER_CONNECTION = 64;
export const TOTAL = 2048;
export const WRITE_HIGH = 1024 * 1024;
/** Connections beyond this are refused (each costs buffers). */
export const MAX_CONNECTIONS = 4096;

export interface Flow {
  /** Queue a decoded frame (call `pump` after a batch). */
  push(frame: unknown): void;
  /** Dispatch what the bounds allow; pause reading the socket while anything waits. */
  pump(): void;
  close(): void;
}

export class FlowControl {
  private inFlight = 0;
  /** Connections held back by TOTAL, woken as requests finish. */
  private readonly waiting = new Set<() => void>();

  get total(): number {
    return this.inFlight;
  }

  open(conn: Socket, dispatch: (frame: unknown) => Promise<void>): Flow {
    let queue: unknown[] = [];
    let head = 0;
    let mine = 0;
    let closed = false;
    const finish = (): void => {
      mine -= 1;
      this.inFlight -= 1;
      // Connections already waiting for a slot go first (else a flooder refills its own at once and starves them).
      if (this.waiting.size === 0) return pump();
      if (head < queue.length) this.waiting.add(pump);
      for (const wake of this.waiting) {
        if (this.inFlight >= TOTAL) break;
        this.waiting.delete(wake);
        wake();
      }
    };
    const pump = (): void => {
      if (closed) return;
      // A connection with nothing in flight always gets one (a CLI's ping is not held behind a flood).
      while (head < queue.length && mine < PER_CONNECTION && (this.inFlight < TOTAL || mine === 0) && conn.writableLength < WRITE_HIGH) {
        const f = queue[head];
        queue[head++] = undefined;
        mine += 1;
        this.inFlight += 1;
        dispatch(f)
          .catch(() => conn.destroy())
          .finally(finish);
      }
      if (head === queue.length) {
        queue = [];
        head = 0;
        this.waiting.delete(pump);
        if (conn.isPaused()) conn.resume();
        return;
      }
      conn.pause();
      if (this.inFlight >= TOTAL && mine > 0) this.waiting.add(pump);
    };
    conn.on('drain', pump);
    return {
      push: (f) => void queue.push(f),
      pump,
      close: () => {
        closed = true;
        queue = [];
        this.waiting.delete(pump);
      },
    };
  }
}
