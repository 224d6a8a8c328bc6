// Group holds and requirement holds, for the coordinator: an entity stopped
// (or kept from starting) because its group restarts or something it requires
// is down, and started again when it may. The hold is in the store (its
// `life`), so a new HAM brings it back.
import { hasProcess, viewState, type HoldReason } from './lifecycle.js';
import { keeperWaits, RESTART_DEADLINE_MS } from './restarts.js';
import type { SupervisorCore } from './supervisor-core.js';

export class Holds {
  constructor(private readonly core: SupervisorCore) {}

  /** Stop gracefully, held (it comes back by itself). */
  async holdStop(name: string, why: HoldReason): Promise<void> {
    const { coord } = this.core.with;
    await this.core.parts.stops.stopOne(name, { tag: 'hold', why });
    // Its requirement may have come back while it was stopping: then it starts now.
    const rec = this.core.store.entity(name);
    if (rec?.life.tag === 'held' && rec.life.why === 'requires' && coord.requirementsUp(rec) && !coord.stoppingAll) void this.startNow(name, rec.instance > 0);
  }

  /** About to start, but held instead (nothing runs to stop). */
  holdInstead(name: string, why: HoldReason): void {
    const { transitions } = this.core.parts;
    const applied = transitions.apply(name, (rec) => ({ tag: 'hold-instead', why, keeperless: !rec.keeper }));
    if (applied?.outcome) transitions.perform(applied.entity, applied.outcome.effects);
  }

  /** Start now (a hold is over, or its group's turn); resolves once it runs or its start failed. */
  async startNow(name: string, restarting: boolean): Promise<void> {
    const { coord } = this.core.with;
    const { transitions } = this.core.parts;
    if (coord.stoppingAll) return;
    const cur = this.core.store.entity(name);
    // Still stopping (a hold in progress): its stop finishes first, then holdStop decides. Running, or nothing to start: nothing to do.
    if (!cur || cur.argv.length === 0 || hasProcess(cur.life)) return;
    if (!coord.requirementsUp(cur)) return this.holdInstead(name, 'requires');
    const t0 = Date.now();
    const applied = transitions.apply(name, { tag: 'release', restart: restarting, keeperParked: keeperWaits(cur) });
    if (!applied?.outcome) return;
    transitions.perform(applied.entity, applied.outcome.effects);
    // Until it is ready (viewState `running`), not only until it runs: a group starts in order of readiness.
    await this.core.waitFor(
      name,
      (x) => !x || viewState(x.life) === 'running' || (x.failedStartAt ?? 0) >= t0 || (x.life.tag === 'dead' && (x.diedAt ?? 0) >= t0),
      RESTART_DEADLINE_MS + (cur.readiness?.timeoutMs ?? 0),
    );
  }
}
