// Standing orders (issue 12): when the first thing an entity's death leads to
// is a plain restart at once, its keeper is told so beforehand and restarts
// without the round trip through the HAM (keeper.c, "o" commands). Pure: what
// the order is for an entity as stored, and the decision the HAM records for
// a restart an order carried out (the same counters a restart action keeps).
import type { ActionSpec, ConditionRecord, Occurrence } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';
import { ORDER_MAX } from '../keeper/records.js';
import { intensity, nextBackoff } from './backoff.js';
import { enabledActions, kindsIn, matches } from './conditions.js';

export { ORDER_MAX } from '../keeper/records.js';

/** Restart at once at the next `n` deaths of a process that ran at least `minRunMs`. */
export interface StandingOrder {
  n: number;
  minRunMs: number;
}

export interface OrderContext {
  now: number;
  /** The global entity (its conditions fire for every entity), if there is one. */
  global: EntityRecord | null;
  /** Other entities require this one (they are stopped first when it goes down). */
  hasDependants: boolean;
  /** A list fired earlier for this entity is still queued or running (a restart would wait for it). */
  busy: boolean;
}

/** Lists that run inside the transaction that fires them: they never delay a restart. */
const INLINE = new Set(['log', 'notify', 'heartbeat-healthy']);

/**
 * Does a death of this kind start with a plain restart? The lists fire in
 * order (the entity's conditions, then the global entity's) and run one after
 * the other; inline and independent lists do not hold the restart back.
 */
function restartsFirst(owners: EntityRecord[], type: Occurrence['type']): boolean {
  const o: Occurrence = { entity: '', type, exit: { code: null, signal: null } };
  for (const owner of owners) {
    for (const c of owner.conditions as ConditionRecord[]) {
      if (!matches(c, o)) continue;
      const actions: ActionSpec[] = enabledActions(c.actions);
      if (actions.length === 0) continue;
      if ([...kindsIn(actions)].every((k) => INLINE.has(k))) continue;
      if (actions[0]!.kind === 'restart') return true;
      if (c.independent && !actions.some((a) => a.kind === 'restart')) continue;
      return false; // something else runs before the restart (or a restart that is not first)
    }
  }
  return false;
}

/** Why there is no order for `e` now (null: there is one), for logs and tests. */
export function noOrderBecause(e: EntityRecord, ctx: OrderContext): string | null {
  if (e.kind !== 'spawned' || e.argv.length === 0) return 'not a command its keeper runs';
  if (e.life.tag !== 'running') return 'not running';
  if (e.keeper?.stale) return 'its keeper holds an older definition (the next start replaces it)';
  if (e.group !== null) return 'in a group (its strategy decides the restart)';
  if (e.requires.length > 0 || ctx.hasDependants) return 'requires or is required (its dependants are held first)';
  if (e.restartPolicy.backoff.initialMs > 0) return 'every restart waits initialMs';
  const owners = [e, ...(ctx.global && ctx.global.enabled ? [ctx.global] : [])];
  if (!e.enabled) return 'disabled';
  if (!restartsFirst(owners, 'death') || !restartsFirst(owners, 'abnormal-death')) return 'its death does not start with a restart';
  if (left(e, ctx.now) <= 0) return 'intensity at its limit';
  // Last: it reads the runs (a getter in orders.ts), the one costly check, for entities that pass the rest.
  if (ctx.busy) return 'an earlier action list is still running';
  return null;
}

/** Restarts the intensity allows before the next one escalates (all of them: no intensity). */
function left(e: EntityRecord, now: number): number {
  const p = e.restartPolicy.intensity;
  if (!p) return ORDER_MAX;
  return p.max - e.restartTimes.filter((t) => t > now - p.withinMs).length;
}

/**
 * The order for `e` now, or null. Exact: each restart it allows is one the
 * HAM would carry out at once. The intensity's budget only shrinks as time
 * passes (its window forgets), so `n` restarts stay within it. A restart is
 * immediate with a zero `initialMs` when the process ran `resetAfterMs`, or
 * whatever its uptime while the backoff is still 0 (the first restart after a
 * reset); after any restart the backoff is MIN_STEP_MS (capped by `maxMs`).
 */
export function standingOrder(e: EntityRecord, ctx: OrderContext): StandingOrder | null {
  if (noOrderBecause(e, ctx) !== null) return null;
  const b = e.restartPolicy.backoff;
  const n = Math.min(ORDER_MAX, left(e, ctx.now));
  if (b.maxMs === 0) return { n, minRunMs: 0 }; // the backoff never grows
  if (e.backoffMs === 0) return { n: 1, minRunMs: 0 }; // this restart at once; the next ones need the uptime
  return { n, minRunMs: b.resetAfterMs };
}

/**
 * The decision the HAM records for a restart an order carried out at `now`:
 * counted in the intensity window, the backoff as after any immediate restart
 * (what the restart action would have written). `over`: the intensity did not
 * allow it (an order that outlived a change; it is counted all the same).
 */
export function orderedDecision(
  e: Pick<EntityRecord, 'restartPolicy' | 'restartTimes'>,
  now: number,
): { restartTimes: number[]; backoffMs: number; over: boolean } {
  const i = intensity(e.restartPolicy.intensity, e.restartTimes, now);
  const b = e.restartPolicy.backoff;
  const times = i.over ? [...i.times, now] : i.times;
  return { restartTimes: times, backoffMs: nextBackoff(b, 0, b.resetAfterMs).nextBackoffMs, over: i.over };
}

/**
 * Inside the transaction of an ordered death (X ... o), after its death fired
 * its conditions: a restart among them is taken as carried out (counted, and
 * the entity `starting` through its keeper, which already forked). False: no
 * restart fired (an order that outlived a change); the death stays as it is.
 */
export function takeOrderedRestart(rec: EntityRecord, now: number): { taken: boolean; over: boolean } {
  const l = rec.life;
  if (l.tag !== 'dead' || l.restart !== 'undecided') return { taken: false, over: false };
  const d = orderedDecision(rec, now);
  rec.restartTimes = d.restartTimes;
  rec.backoffMs = d.backoffMs;
  rec.life = { tag: 'starting', restart: true, via: null };
  return { taken: true, over: d.over };
}
