// Group holds and requirement holds, for the coordinator: an entity stopped
// (or kept from starting) because its group restarts or something it requires
// is down, and started again when it may. `held` is in the store, so a new
// HAM brings it back.
import type { HoldReason } from './lifecycle.js';
import { RESTART_DEADLINE_MS } from './restarts.js';
import type { SupervisorCore } from './supervisor-core.js';

export class Holds {
  constructor(private readonly core: SupervisorCore) {}

  /** Stop gracefully, held (it comes back by itself). */
  async holdStop(name: string, why: HoldReason): Promise<void> {
    const { coord } = this.core.with;
    await this.core.parts.stops.stopOne(name, { tag: 'hold', why });
    // Its requirement may have come back while it was stopping: then it starts now.
    const rec = this.core.store.entity(name);
    if (rec?.held === 'requires' && rec.state === 'stopped' && coord.requirementsUp(rec) && !coord.stoppingAll) void this.startNow(name, rec.instance > 0);
  }

  /** About to start, but held instead (nothing runs to stop). */
  holdInstead(name: string, why: HoldReason): void {
    this.core.parts.restarts.cancel(name);
    const e = this.core.updateIfPresent(name, (rec) => {
      rec.held = why;
      rec.desired = 'stopped';
      rec.restartAt = null;
      rec.restartPending = false;
      if (rec.state === 'dead' || (rec.state === 'starting' && !rec.keeper)) rec.state = 'stopped';
    });
    if (e) this.core.parts.keepers.releaseIfDone(e);
  }

  /** Start now (a hold is over, or its group's turn); resolves once it runs or its start failed. */
  async startNow(name: string, restarting: boolean): Promise<void> {
    const { coord } = this.core.with;
    if (coord.stoppingAll) return;
    const cur = this.core.store.entity(name);
    // Still stopping (a hold in progress): its stop finishes first, then holdStop decides.
    if (!cur || (cur.desired === 'stopped' && (cur.state === 'running' || cur.state === 'starting'))) return;
    if (cur.argv.length === 0 || cur.state === 'running' || cur.state === 'starting') {
      this.core.updateIfPresent(name, (rec) => void (rec.desired = 'running'));
      return;
    }
    if (!coord.requirementsUp(cur)) return this.holdInstead(name, 'requires');
    const t0 = Date.now();
    this.core.updateIfPresent(name, (rec) => {
      rec.desired = 'running';
      rec.restartAt = null;
      rec.held = null;
    });
    this.core.parts.restarts.launch(name, restarting);
    await this.core.waitFor(
      name,
      (x) => !x || x.state === 'running' || (x.failedStartAt ?? 0) >= t0 || (x.state === 'dead' && (x.diedAt ?? 0) >= t0),
      RESTART_DEADLINE_MS,
    );
  }
}
