// Long loops in the HAM (apply of thousands of entities) yield to the event
// loop every few milliseconds, so timers (the beat to the Guardian) and other
// clients run between slices: the Guardian must never mistake work for a hang.
import { performance } from 'node:perf_hooks';

export const SLICE_MS = 8;

export class Pacer {
  private since = performance.now();

  constructor(private readonly sliceMs = SLICE_MS) {}

  /** The next turn of the loop, whatever the slice (before a long synchronous step). */
  yield(): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        this.since = performance.now();
        resolve();
      }),
    );
  }

  /** Resolves at once within the slice; after it, in the next turn of the loop. */
  tick(): Promise<void> | undefined {
    if (performance.now() - this.since < this.sliceMs) return undefined;
    return this.yield();
  }
}

/** Serialises async sections (two applies must not interleave their plan and commit). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
