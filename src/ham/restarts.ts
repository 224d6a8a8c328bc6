// Restarts: the restart action (decided once per death, with backoff and an
// intensity that escalates), the timers of restarts due, `ham reset`, and the
// start itself (through the keeper waiting on the death record, or a new one).
import { HamError } from '../errors.js';
import { isAlive } from '../proc/procfs.js';
import type { RunRecord } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';
import { intensity, nextBackoff } from './backoff.js';
import type { LifeEvent } from './lifecycle-events.js';
import { transition } from './lifecycle-table.js';
import { holdOf, parkedOf, processRuns, restartAtOf, stopWanted, viewState } from './lifecycle.js';
import type { ActionResult } from './executor.js';
import type { SupervisorCore } from './supervisor-core.js';

/** A restart that has not produced a running process by then has failed. */
export const RESTART_DEADLINE_MS = 30_000;
/** A restart due while its group is being restarted is tried again after this long. */
const GROUP_BUSY_RETRY_MS = 100;

export class Restarts {
  /** Restarts due (backoff), by entity. */
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly core: SupervisorCore) {}

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** Bring the entity of `run` back; ok once a new process runs. Idempotent across takeovers. */
  async forRun(run: RunRecord): Promise<ActionResult> {
    const name = run.target;
    const { store, parts } = this.core;
    let e = store.entity(name);
    if (!e) return { ok: false, error: `entity ${name} is gone` };
    if (e.argv.length === 0) return { ok: false, error: `entity ${name} has no command to restart it with` };
    // Held by its group or a requirement: the coordinator brings it back; that is not a failure of this action.
    if (stopWanted(e.life)) return holdOf(e.life) ? { ok: true } : { ok: false, error: `entity ${name} is being stopped` };
    if (e.life.tag === 'failed') return { ok: false, keep: true, error: `entity ${name} failed (${e.lastError}); \`ham reset ${name}\` brings it back` };
    const since = run.createdAt;
    const done = (x: EntityRecord | undefined): boolean =>
      !x || (processRuns(x.life) && (x.startedAt ?? 0) >= since) || (x.failedStartAt ?? 0) >= since || stopWanted(x.life);
    // Its process runs (ready or not: readiness is the start's own deadline, readiness.ts): the restart is done.
    if (processRuns(e.life)) return { ok: true }; // already back (or never died: a `now` restart)
    if (!done(e)) {
      // Decided once per death (its restart is then due at a time): a takeover re-reads the decision, never re-counts it.
      const applied = parts.transitions.apply(name, (rec) => this.decide(rec));
      e = applied?.entity;
      if (applied?.outcome) {
        if (applied.outcome.occurrences.some((o) => o.type === 'escalate')) {
          const p = applied.entity.restartPolicy.intensity;
          this.core.log('error', 'restart intensity exceeded: escalating; the entity is failed until `ham reset`', {
            entity: name,
            max: p?.max,
            withinMs: p?.withinMs,
          });
        }
        parts.transitions.perform(applied.entity, applied.outcome.effects);
      } else if (e?.life.tag === 'dead') this.schedule(e); // decided before: its timer again
      if (e?.life.tag === 'failed') return { ok: false, keep: true, error: e.lastError ?? `entity ${name} failed` };
    }
    const wait = Math.max(0, ((e && restartAtOf(e.life)) ?? Date.now()) - Date.now()) + RESTART_DEADLINE_MS;
    const after = await this.core.waitFor(name, done, wait);
    if (after && processRuns(after.life) && (after.startedAt ?? 0) >= since) return { ok: true };
    if (!after) return { ok: false, error: `entity ${name} is gone` };
    if (stopWanted(after.life)) return holdOf(after.life) ? { ok: true } : { ok: false, error: `entity ${name} is being stopped` };
    // No restart is coming for this death: a keeper parked on it is let go.
    const given = parts.transitions.apply(name, { tag: 'restart-given-up' });
    if (given?.outcome) parts.transitions.perform(given.entity, given.outcome.effects);
    return {
      ok: false,
      error: after.lastError ?? `entity ${name} did not start within ${wait} ms`,
      ...(after.lastFailure ? { failure: after.lastFailure } : {}),
    };
  }

  /**
   * Inside the transaction: the restart's decision for this death, counted in
   * the intensity window; more restarts than it allows escalate (the entity
   * ends `failed` and the escalate conditions fire once).
   */
  private decide(rec: EntityRecord): LifeEvent {
    const now = Date.now();
    if (restartAtOf(rec.life) !== null || viewState(rec.life) === 'starting') return { tag: 'restart-decided', at: restartAtOf(rec.life) ?? now, over: false }; // the table ignores it
    const i = intensity(rec.restartPolicy.intensity, rec.restartTimes, now);
    rec.restartTimes = i.times;
    if (i.over) return { tag: 'restart-decided', at: now, over: true };
    const b = nextBackoff(rec.restartPolicy.backoff, rec.backoffMs, rec.lastUptimeMs);
    rec.backoffMs = b.nextBackoffMs;
    return { tag: 'restart-decided', at: now + b.delayMs, over: false };
  }

  /** `ham reset NAME`: a failed (or dead) entity gets fresh counters and is started again. */
  reset(name: string): EntityRecord {
    const cur = this.core.mustGet(name);
    if (viewState(cur.life) !== 'failed' && viewState(cur.life) !== 'dead')
      throw new HamError({ code: 'bad-request', entity: name, message: `reset: expected a failed or dead entity, got ${name} ${viewState(cur.life)}` });
    if (cur.argv.length === 0) throw new HamError({ code: 'bad-request', entity: name, message: `reset: ${name} has no command to start it with` });
    const applied = this.core.parts.transitions.apply(name, { tag: 'reset', now: Date.now() });
    if (!applied?.outcome)
      throw new HamError({
        code: 'bad-request',
        entity: name,
        message: `reset: expected a failed or dead entity, got ${name} ${applied ? viewState(applied.entity.life) : 'gone'}`,
      });
    const e = applied.entity;
    this.core.parts.transitions.perform(e, applied.outcome.effects);
    this.core.log('info', 'reset: started again with fresh counters', { entity: name });
    return e;
  }

  /** Restart at `at` (epoch ms; by default when its decided restart is due), now if that has passed. */
  schedule(e: EntityRecord, at = restartAtOf(e.life)): void {
    this.cancel(e.name);
    const delay = Math.max(0, (at ?? 0) - Date.now());
    if (delay === 0) return this.due(e.name);
    this.timers.set(
      e.name,
      setTimeout(() => this.due(e.name), delay),
    );
  }

  cancel(name: string): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  /** Try the due restart again shortly (its group is being restarted). */
  retrySoon(name: string): void {
    this.cancel(name);
    this.timers.set(
      name,
      setTimeout(() => this.due(name), GROUP_BUSY_RETRY_MS),
    );
  }

  /** A restart's backoff is over: the table decides with what the coordinator says now. */
  private due(name: string): void {
    this.timers.delete(name);
    const { coord } = this.core.with;
    const { transitions } = this.core.parts;
    const e = this.core.store.entity(name);
    if (!e) return;
    const keeperParked = keeperWaits(e);
    const ev: LifeEvent = {
      tag: 'restart-due',
      requirementsUp: coord.requirementsUp(e),
      groupBusy: !!e.group && coord.restarting(e.group),
      takesAlong: coord.takesAlong(e),
      keeperParked,
    };
    // Nothing changes but effects (try again, a group restart): no write.
    const peek = transition(e.life, ev, { kind: e.kind, hasCommand: e.argv.length > 0 });
    if (!peek) return;
    if (peek.marks.length === 0 && peek.occurrences.length === 0 && peek.effects.every((x) => x.kind === 'retry-restart' || x.kind === 'group-restart'))
      return transitions.perform(e, peek.effects);
    const applied = transitions.apply(name, ev);
    if (applied?.outcome) transitions.perform(applied.entity, applied.outcome.effects);
  }
}

/** A live keeper waits on its death record (a restart can go through it). */
export function keeperWaits(e: EntityRecord): boolean {
  return !!e.keeper && parkedOf(e.life) !== null && isAlive(e.keeper);
}
