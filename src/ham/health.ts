// HAM-invoked health checks (corosync SAM's event-driven checks, AMF's
// healthcheck): the HAM calls a callback the client registered, every
// interval, over the client's own connection. A false answer, an error, or no
// answer within the timeout is a failure; what follows (warning signal, then
// SIGKILL after a grace) is the supervisor's, and is kept in the store so a
// takeover carries it out on time.
import type { HealthSpec } from '../model/records.js';

/** Sends one call to the entity's client; false when it has no connection now. */
export type SendCall = (name: string, call: number) => boolean;
export type HealthFailed = (name: string, reason: string) => void;

interface Checked {
  spec: HealthSpec;
  timer: NodeJS.Timeout | undefined;
  /** The call awaiting its answer (0: none). */
  call: number;
}

export class HealthChecker {
  private readonly checked = new Map<string, Checked>();
  private nextCall = 1;
  /** Calls answered healthy, and failures, since start (for `stats`). */
  passed = 0;
  failed = 0;

  constructor(
    private readonly send: SendCall,
    private readonly onFailed: HealthFailed,
  ) {}

  /** Check `name` every `spec.intervalMs`, the first time after `firstMs` (a takeover adds a grace). */
  track(name: string, spec: HealthSpec, firstMs = spec.intervalMs): void {
    this.untrack(name);
    const c: Checked = { spec, timer: undefined, call: 0 };
    this.checked.set(name, c);
    this.schedule(name, c, firstMs);
  }

  untrack(name: string): void {
    const c = this.checked.get(name);
    if (c?.timer) clearTimeout(c.timer);
    this.checked.delete(name);
  }

  /** The client's answer to `call`. Late or stray answers are ignored. */
  reply(name: string, call: number, healthy: boolean, message?: string): void {
    const c = this.checked.get(name);
    if (!c || c.call === 0 || c.call !== call) return;
    c.call = 0;
    if (c.timer) clearTimeout(c.timer);
    if (healthy) {
      this.passed += 1;
      this.schedule(name, c, c.spec.intervalMs);
    } else this.fail(name, message ? `the health check answered unhealthy: ${message}` : 'the health check answered unhealthy');
  }

  close(): void {
    for (const name of [...this.checked.keys()]) this.untrack(name);
  }

  private schedule(name: string, c: Checked, ms: number): void {
    c.timer = setTimeout(() => this.call(name, c), ms);
    c.timer.unref();
  }

  private call(name: string, c: Checked): void {
    if (this.checked.get(name) !== c) return;
    const call = this.nextCall++;
    // No connection (the client is reconnecting after a takeover, or went
    // away): nobody to ask. A lost self-attached client is a death anyway, and
    // a silent one misses its heartbeats; try again next interval.
    if (!this.send(name, call)) return this.schedule(name, c, c.spec.intervalMs);
    c.call = call;
    c.timer = setTimeout(() => {
      // Timers run before the poll phase: an answer already waiting on the socket
      // (after a stall of this process) is read before this second look.
      setImmediate(() => {
        if (this.checked.get(name) !== c || c.call !== call) return;
        c.call = 0;
        this.fail(name, `the health check did not answer within ${c.spec.timeoutMs} ms`);
      });
    }, c.spec.timeoutMs);
    c.timer.unref();
  }

  /** One failure ends the checking of this instance: the supervisor takes it from here. */
  private fail(name: string, reason: string): void {
    this.failed += 1;
    this.untrack(name);
    this.onFailed(name, reason);
  }
}
