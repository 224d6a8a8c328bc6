// Lifecycle values for the table's pure tests (test/ham/lifecycle*.test.ts), built one way.
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
