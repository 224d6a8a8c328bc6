// Crash-loop soak under standing orders (issue 12, item 2): 20 entities that
// die 50 ms after each start with an immediate-restart policy (a backoff that
// never grows), so every restart their intensity allows is carried out by the
// keeper's order, without asking. Ten have an intensity (at most LIMIT
// restarts, then escalate once and end failed): their counts must be exactly
// the policy's. Ten restart forever: every death restarted exactly once.
// Also counts how many restarts went by order (from the HAM log).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusView } from '../src/protocol/views.js';
import { homePaths } from '../src/home.js';
import { nowMs, sleep, startBenchPair, requestOnce } from './lib.js';

export interface OrdersSoakResult {
  seconds: number;
  limited: { entities: number; max: number; restarts: number[]; escalations: number; failed: number };
  forever: { entities: number; deaths: number; restarts: number; unaccounted: number };
  /** Restarts the keepers carried out by their standing order, of all restarts. */
  byOrder: number;
  restarts: number;
}

export async function benchOrdersSoak(seconds: number, limit = 20): Promise<OrdersSoakResult> {
  const pair = await startBenchPair({ hangMs: 5000 });
  const paths = homePaths(pair.home);
  const call = <T>(op: string, args: object): Promise<T> => requestOnce<T>(paths.socket, op, args);
  try {
    const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };
    const command = ['sh', '-c', 'sleep 0.05; exit 1'];
    const backoff = { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 3_600_000 };
    const entities: Record<string, object> = {};
    for (let i = 0; i < 10; i++) {
      entities[`limited${i}`] = {
        command,
        conditions: { died },
        restart: { backoff, intensity: { max: limit, withinMs: 3_600_000 }, escalate: [{ kind: 'log', message: 'gave up' }] },
      };
      entities[`forever${i}`] = { command, conditions: { died }, restart: { backoff } };
    }
    const t0 = nowMs();
    await call('apply', { config: { entities } });
    await sleep(seconds * 1000);
    const s = await call<StatusView>('status', {});
    const wall = (nowMs() - t0) / 1000;
    const lim = s.entities.filter((e) => e.name.startsWith('limited'));
    const fov = s.entities.filter((e) => e.name.startsWith('forever'));
    const deaths = fov.reduce((n, e) => n + e.deaths, 0);
    const restarts = fov.reduce((n, e) => n + e.restarts, 0);
    // A death whose restart is not counted yet at the moment we looked: at most one per entity.
    const pending = fov.filter((e) => e.state !== 'running').length;
    const log = readFileSync(join(paths.logs, 'ham.log'), 'utf8');
    const byOrder = log.split('\n').filter((l) => l.includes('"keeper record X"') && l.includes('"ordered":true')).length;
    return {
      seconds: wall,
      limited: {
        entities: lim.length,
        max: limit,
        restarts: lim.map((e) => e.restarts),
        escalations: lim.reduce((n, e) => n + (e.conditions.find((c) => c.name === 'escalate')?.fired ?? 0), 0),
        failed: lim.filter((e) => e.state === 'failed').length,
      },
      forever: { entities: fov.length, deaths, restarts, unaccounted: deaths - restarts - pending },
      byOrder,
      restarts: restarts + lim.reduce((n, e) => n + e.restarts, 0),
    };
  } finally {
    await pair.close();
  }
}
