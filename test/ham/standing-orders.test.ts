// When a keeper may restart at once without asking (pure): the order for an
// entity as stored, and that the restarts it allows are exactly the ones the
// HAM's restart action would carry out at once (backoff and intensity).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intensity, nextBackoff } from '../../src/ham/backoff.js';
import { restartCondition, toConditionRecord } from '../../src/ham/conditions.js';
import { blankEntity } from '../../src/ham/entity-records.js';
import { lifeOf } from '../../src/ham/lifecycle.js';
import { noOrderBecause, ORDER_MAX, orderedDecision, standingOrder, takeOrderedRestart, type OrderContext } from '../../src/ham/standing-orders.js';
import type { ActionSpec, ConditionSpec } from '../../src/model/conditions.js';
import type { EntityRecord } from '../../src/model/records.js';

const NOW = 1_000_000;
const ctx = (over: Partial<OrderContext> = {}): OrderContext => ({ now: NOW, global: null, hasDependants: false, busy: false, ...over });

const action = (kind: ActionSpec['kind'], extra: Partial<ActionSpec> = {}): ActionSpec => ({
  name: `${kind}${Math.random()}`,
  kind,
  enabled: true,
  now: false,
  breakOnFail: false,
  keepOnFail: true,
  onFail: [],
  ...(kind === 'execute' ? { argv: ['true'] } : {}),
  ...extra,
});
const cond = (type: ConditionSpec['type'], actions: ActionSpec[], extra: Partial<ConditionSpec> = {}) =>
  toConditionRecord({ name: `${type}${Math.random()}`, type, enabled: true, rearm: true, independent: false, actions, ...extra });

function running(over: Partial<EntityRecord> = {}): EntityRecord {
  const e = blankEntity({ name: 'web', kind: 'spawned', argv: ['sleep', '1000'], env: {}, cwd: '/', conditions: [restartCondition()] }, 1);
  return { ...e, life: { tag: 'running' }, keeper: { pid: 10, start: 1, serial: 1, lastSeq: 3 }, ...over };
}

describe('standingOrder', () => {
  it('a plain restart on death: the first restart at once whatever the uptime, then after resetAfterMs up', () => {
    expect(standingOrder(running(), ctx())).toEqual({ n: 1, minRunMs: 0 });
    expect(standingOrder(running({ backoffMs: 100 }), ctx())).toEqual({ n: ORDER_MAX, minRunMs: 1000 });
  });

  it('none for a keeper an apply left with an older definition (its restart would run that)', () => {
    expect(standingOrder(running({ keeper: { pid: 10, start: 1, serial: 1, lastSeq: 3, stale: true } }), ctx())).toBeNull();
    expect(noOrderBecause(running({ keeper: { pid: 10, start: 1, serial: 1, lastSeq: 3, stale: true } }), ctx())).toMatch(/older definition/);
  });

  it('a backoff that never grows (maxMs 0): every restart at once', () => {
    const p = { backoff: { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 1000 }, intensity: null };
    expect(standingOrder(running({ restartPolicy: p }), ctx())).toEqual({ n: ORDER_MAX, minRunMs: 0 });
  });

  it('intensity: as many restarts as it still allows, none at its limit', () => {
    const p = { backoff: { initialMs: 0, factor: 2, maxMs: 5000, resetAfterMs: 1000 }, intensity: { max: 3, withinMs: 10_000 } };
    expect(standingOrder(running({ restartPolicy: p, backoffMs: 100, restartTimes: [NOW - 20_000, NOW - 5] }), ctx())).toEqual({ n: 2, minRunMs: 1000 });
    expect(standingOrder(running({ restartPolicy: p, backoffMs: 100, restartTimes: [NOW - 3, NOW - 2, NOW - 1] }), ctx())).toBeNull();
    expect(noOrderBecause(running({ restartPolicy: p, restartTimes: [NOW - 3, NOW - 2, NOW - 1] }), ctx())).toMatch(/intensity/);
  });

  it.each<[string, Partial<EntityRecord>, Partial<OrderContext>]>([
    ['not running (dead)', { life: lifeOf({ state: 'dead' }) }, {}],
    ['being stopped', { life: lifeOf({ state: 'running', desired: 'stopped' }) }, {}],
    ['held', { life: lifeOf({ state: 'dead', desired: 'stopped', held: 'requires' }) }, {}],
    ['disabled', { enabled: false }, {}],
    ['self-attached', { kind: 'self' }, {}],
    ['no command', { argv: [] }, {}],
    ['in a group', { group: 'g' }, {}],
    ['requires another', { requires: ['db'] }, {}],
    ['required by another', {}, { hasDependants: true }],
    ['an earlier list still running', {}, { busy: true }],
    ['a backoff delay (initialMs)', { restartPolicy: { backoff: { initialMs: 50, factor: 2, maxMs: 5000, resetAfterMs: 1000 }, intensity: null } }, {}],
    ['no restart on death', { conditions: [] }, {}],
    ['an execute before the restart', { conditions: [cond('death', [action('execute'), action('restart')])] }, {}],
    ['a list before the restart list', { conditions: [cond('death', [action('execute')]), restartCondition()] }, {}],
    ['a restart only on abnormal deaths', { conditions: [cond('abnormal-death', [action('restart')])] }, {}],
    ['a disabled restart', { conditions: [cond('death', [action('restart', { enabled: false })])] }, {}],
  ])('none when %s', (_what, over, c) => {
    expect(standingOrder(running(over), ctx(c))).toBeNull();
    expect(noOrderBecause(running(over), ctx(c))).not.toBeNull();
  });

  it('inline and independent lists do not hold the restart back; the global entity counts', () => {
    const log = cond('death', [action('log')]);
    const alongside = cond('death', [action('execute')], { independent: true });
    expect(standingOrder(running({ conditions: [log, alongside, restartCondition()] }), ctx())).not.toBeNull();
    const global = { ...running({ name: '*', kind: 'global', conditions: [restartCondition()] }) };
    expect(standingOrder(running({ conditions: [] }), ctx({ global }))).not.toBeNull();
    expect(standingOrder(running({ conditions: [] }), ctx({ global: { ...global, enabled: false } }))).toBeNull();
    // The entity's own lists fire first: an execute there runs before the global restart.
    expect(standingOrder(running({ conditions: [cond('death', [action('execute')])] }), ctx({ global }))).toBeNull();
  });
});

describe('an order is exact', () => {
  // Model: the restart action's decision (restarts.ts decide) against what an order allows.
  const policy = fc.record({
    backoff: fc.record({
      initialMs: fc.constant(0),
      factor: fc.constantFrom(1, 2, 3),
      maxMs: fc.constantFrom(0, 50, 5000),
      resetAfterMs: fc.constantFrom(0, 500, 1000),
    }),
    intensity: fc.option(fc.record({ max: fc.integer({ min: 1, max: 8 }), withinMs: fc.constantFrom(1000, 60_000) }), { nil: null }),
  });

  it('every restart an order allows is one the restart action carries out at once, counted the same', () => {
    fc.assert(
      fc.property(policy, fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }), (p, uptimes) => {
        let e = running({ restartPolicy: p });
        let now = NOW;
        let order = standingOrder(e, ctx({ now }));
        let left = order?.n ?? 0;
        for (const up of uptimes) {
          now += up;
          // What the HAM would decide for this death with the restart action.
          const i = intensity(p.intensity, e.restartTimes, now);
          const b = nextBackoff(p.backoff, e.backoffMs, up);
          const atOnce = !i.over && b.delayMs === 0;
          const byOrder = order !== null && left > 0 && up >= order.minRunMs;
          if (byOrder) expect(atOnce).toBe(true);
          if (byOrder) {
            left -= 1;
            const d = orderedDecision(e, now);
            expect(d).toEqual({ restartTimes: i.times, backoffMs: b.nextBackoffMs, over: false });
            e = { ...e, restartTimes: d.restartTimes, backoffMs: d.backoffMs };
          } else {
            // It asked: the HAM decides (and gives a new order once it runs again).
            if (i.over) break;
            e = { ...e, restartTimes: i.times, backoffMs: b.nextBackoffMs };
            now += b.delayMs;
            order = standingOrder(e, ctx({ now }));
            left = order?.n ?? 0;
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('takeOrderedRestart', () => {
  it('a death whose restart fired becomes a counted restart in progress through its keeper', () => {
    const e = running({ life: lifeOf({ state: 'dead', restartPending: true, awaiting: 7 }), backoffMs: 0 });
    expect(takeOrderedRestart(e, NOW)).toEqual({ taken: true, over: false });
    expect(e.life).toEqual({ tag: 'starting', restart: true, via: null });
    expect(e.backoffMs).toBe(100);
  });

  it('a death no restart fired for stays as it is', () => {
    const e = running({ life: lifeOf({ state: 'dead', awaiting: 7 }) });
    expect(takeOrderedRestart(e, NOW)).toEqual({ taken: false, over: false });
    expect(e.life).toEqual({ tag: 'dead', parked: 7, restart: 'none' });
  });
});
