// Lifecycle values for the table's pure tests (test/ham/lifecycle*.test.ts), built one way.
import fc from 'fast-check';
import type { Life } from '../../src/ham/lifecycle.js';
import type { LifeContext } from '../../src/ham/lifecycle-events.js';

export const SPAWNED: LifeContext = { kind: 'spawned', hasCommand: true };
export const idle: Life = { tag: 'idle' };
export const running: Life = { tag: 'running' };
export const starting = (restart = false, via: number | null = null): Life => ({ tag: 'starting', restart, via });
export const dead = (parked: number | null, restart: Extract<Life, { tag: 'dead' }>['restart'] = 'none'): Life => ({ tag: 'dead', parked, restart });
export const stopping = (then: 'stopped' | 'group' | 'requires' = 'stopped', started = true, restart = false, via: number | null = null): Life => ({
  tag: 'stopping',
  started,
  restart,
  via,
  then,
});
export const stopped = (parked: number | null = null): Life => ({ tag: 'stopped', parked });
export const held = (why: 'group' | 'requires', parked: number | null = null): Life => ({ tag: 'held', why, parked });
export const failed = (parked: number | null = null): Life => ({ tag: 'failed', parked });

/** Any lifecycle value the union allows (fast-check). */
export const anyLife = fc.oneof(
  fc.constant(idle),
  fc.record({ tag: fc.constant('starting' as const), restart: fc.boolean(), via: fc.option(fc.nat()) }),
  fc.constant(running),
  fc.record({
    tag: fc.constant('dead' as const),
    parked: fc.option(fc.nat()),
    restart: fc.oneof(fc.constant('none' as const), fc.constant('undecided' as const), fc.record({ at: fc.nat() })),
  }),
  fc.record({
    tag: fc.constant('stopping' as const),
    started: fc.boolean(),
    restart: fc.boolean(),
    via: fc.option(fc.nat()),
    then: fc.constantFrom('stopped' as const, 'group' as const, 'requires' as const),
  }),
  fc.record({ tag: fc.constant('stopped' as const), parked: fc.option(fc.nat()) }),
  fc.record({ tag: fc.constant('held' as const), why: fc.constantFrom('group' as const, 'requires' as const), parked: fc.option(fc.nat()) }),
  fc.record({ tag: fc.constant('failed' as const), parked: fc.option(fc.nat()) }),
) as fc.Arbitrary<Life>;
