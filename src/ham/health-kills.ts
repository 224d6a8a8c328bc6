// Failed health checks carried out: the conditions fire, the warning signal
// goes, and SIGKILL follows after the grace. The failure is in the store
// (`healthFailing`), so a takeover still kills on time.
import { isAlive, signalProc } from '../proc/procfs.js';
import { emptyFired } from './dispatch.js';
import type { SupervisorCore } from './supervisor-core.js';
import { transition } from './lifecycle-table.js';
import { viewState } from './lifecycle.js';

export class HealthKills {
  /** SIGKILLs due after a failed health check's grace, by entity. */
  private readonly due = new Map<string, NodeJS.Timeout>();

  constructor(private readonly core: SupervisorCore) {}

  /** A health check failed: record it and fire its conditions, send the warning signal, SIGKILL after the grace. */
  failed(name: string, reason: string): void {
    const fired = emptyFired();
    fired.seenAt = performance.now();
    const e = this.core.updateIfPresent(name, (rec) => {
      if (viewState(rec.life) !== 'running' || rec.pid === null || rec.pidStart === null || !rec.health || rec.healthFailing) return;
      rec.healthFailures += 1;
      rec.healthFailing = { at: Date.now(), killAt: Date.now() + rec.health.graceMs, pid: rec.pid, pidStart: rec.pidStart, reason };
      this.core.with.dispatcher.fireInTxn({ entity: name, type: 'health-check-failed', pid: rec.pid, detail: reason }, rec, fired);
    });
    if (!e?.healthFailing || !e.health) return;
    this.core.publish(fired);
    this.core.log(
      'warn',
      e.health.graceMs > 0 ? `health check failed: sending ${e.health.signal}, SIGKILL in ${e.health.graceMs} ms` : 'health check failed: SIGKILL',
      { entity: name, pid: e.pid, reason },
    );
    if (e.health.graceMs > 0) signalProc({ pid: e.healthFailing.pid, start: e.healthFailing.pidStart }, e.health.signal as NodeJS.Signals);
    this.schedule(name, e.healthFailing.killAt);
  }

  /** SIGKILL at `at` (epoch ms) unless the failing process is gone by then. */
  schedule(name: string, at: number): void {
    clearTimeout(this.due.get(name));
    const timer = setTimeout(
      () => {
        this.due.delete(name);
        const e = this.core.store.entity(name);
        const f = e?.healthFailing;
        if (!e || !f || e.pid !== f.pid || !isAlive({ pid: f.pid, start: f.pidStart })) return;
        this.core.log('warn', 'health check failed and the grace is over: SIGKILL', { entity: name, pid: f.pid });
        // The table says what a health kill does in its state (nothing changes but the signal: no write).
        const kill = transition(e.life, { tag: 'health-kill' }, { kind: e.kind, hasCommand: e.argv.length > 0 });
        if (kill) this.core.parts.transitions.perform(e, kill.effects);
      },
      Math.max(0, at - Date.now()),
    );
    this.due.set(name, timer);
  }

  /** No more checks or kills for this entity's current instance. */
  forget(name: string): void {
    this.core.with.health.untrack(name);
    clearTimeout(this.due.get(name));
    this.due.delete(name);
  }

  /** The `heartbeat-healthy` action: its heartbeat state is `ok` again. */
  heartbeatHealthy(name: string): void {
    this.core.with.heartbeats.reset(name);
    const e = this.core.store.entity(name);
    if (e && e.heartbeatState !== 'ok') this.core.updateIfPresent(name, (rec) => void (rec.heartbeatState = 'ok'));
  }

  close(): void {
    for (const t of this.due.values()) clearTimeout(t);
    this.due.clear();
  }
}
