// A stream detector's stderr, kept under its own name (NAME/=detector) the
// way an entity's output is (its stdout is the event stream, not kept). The
// HAM reads it, so it is bounded by a byte rate: over it, what the rate
// allows is kept and the rest dropped and counted (said once it is under its rate again), and reading
// pauses a moment (the detector then waits on its writes, as it does on a
// stdout over its rate): a flood costs the HAM a few reads, not its loop.
import { LogWriter } from '../logs/writer.js';
import type { LogPolicy } from '../model/records.js';
import type { CheckLog } from './runner.js';

/** Bytes of stderr kept per second, with a burst of STDERR_BURST (a stack trace at once). */
export const STDERR_RATE = 64 * 1024;
export const STDERR_BURST = 512 * 1024;

export class StreamStderr {
  private readonly out: LogWriter;
  private tokens = STDERR_BURST;
  private at = performance.now();
  /** Bytes dropped since the last note, and over the detector's life. */
  private pending = 0;
  dropped = 0;
  private midLine = false;

  constructor(log: CheckLog) {
    const policy: LogPolicy = { maxBytes: log.maxBytes, keep: log.keep };
    this.out = new LogWriter(log.dir, policy, log.instance);
  }

  /** A chunk of stderr; false when it was over the rate (dropped: the caller pauses reading). */
  take(chunk: Buffer): boolean {
    const now = performance.now();
    this.tokens = Math.min(STDERR_BURST, this.tokens + ((now - this.at) * STDERR_RATE) / 1000);
    this.at = now;
    if (chunk.length > this.tokens) {
      // Over the rate: what the tokens allow is kept (cut after its last whole line, if it has one), the rest counted.
      const n = Math.floor(this.tokens);
      const line = n > 0 ? chunk.lastIndexOf(10, n - 1) + 1 : 0;
      const kept = line > 0 ? line : n;
      if (kept > 0) this.keep(chunk.subarray(0, kept));
      this.pending += chunk.length - kept;
      this.dropped += chunk.length - kept;
      this.tokens = 0;
      return false;
    }
    this.tokens -= chunk.length;
    this.keep(chunk);
    return true;
  }

  private keep(chunk: Buffer): void {
    this.note();
    this.out.write(1, chunk);
    this.midLine = chunk.length > 0 && chunk[chunk.length - 1] !== 10;
  }

  /** The detector ended: a line without its newline goes out as it is. */
  end(): void {
    this.note();
    this.out.end();
  }

  /** What was dropped, said on a line of its own (never in the middle of one of the detector's). */
  private note(): void {
    if (this.pending === 0) return;
    this.out.write(1, Buffer.from(`${this.midLine ? '\n' : ''}[ham: ${this.pending} bytes of stderr dropped: over ${STDERR_RATE} bytes/s]\n`));
    this.pending = 0;
    this.midLine = false;
  }
}
