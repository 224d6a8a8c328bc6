// Conditions and actions at scale: with 1,000 entities attached,
// (1) the latency from an occurrence to its first action starting (measured
// inside the HAM: occurrence seen → first action's code entered), and
// (2) raise → log throughput, against the same load of `ping` requests (the
// socket round trip with no store work: the floor for any request).
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { nowMs, sleep, startBenchPair } from './lib.js';
import { statusAll } from '../src/client/pages.js';

export interface ConditionsResult {
  entities: number;
  latency: { count: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
  raisesPerSec: number;
  pingsPerSec: number;
  raises: number;
}

/** Send `n` requests over `conns` connections with up to `depth` in flight each; returns req/s. */
async function blast(socket: string, n: number, conns: number, depth: number, make: (i: number) => [string, object]): Promise<number> {
  const cs = await Promise.all(Array.from({ length: conns }, () => Connection.open(socket, 5000)));
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    cs.flatMap((c) =>
      Array.from({ length: depth }, async () => {
        while (next < n) {
          const [op, args] = make(next++);
          await c.request(op as never, args as never, 60_000);
        }
      }),
    ),
  );
  const s = (nowMs() - t0) / 1000;
  for (const c of cs) c.close();
  return n / s;
}

export async function benchConditions(entities: number, samples: number, raises: number): Promise<ConditionsResult> {
  const pair = await startBenchPair({ hangMs: 5000 });
  const socket = homePaths(pair.home).socket;
  try {
    const config: Record<string, unknown> = {};
    for (let i = 0; i < entities; i++) {
      config[`e${i}`] = {
        command: ['sleep', '1000000'],
        conditions: { hit: { type: 'raise', rearm: true, match: { type: 'hit' }, actions: [{ kind: 'waitfor', delayMs: 0, keepOnFail: true }] } },
      };
    }
    config.tp = {
      command: ['sleep', '1000000'],
      conditions: { logged: { type: 'raise', rearm: true, match: { type: 'tp' }, actions: [{ kind: 'log', message: 'tp', level: 'debug' }] } },
    };
    const c = await Connection.open(socket, 5000);
    await c.request('apply', { config: { entities: config } }, 120_000);
    while ((await statusAll(c, undefined, 30_000)).entities.some((e) => e.state !== 'running')) await sleep(100);
    // (1) latency: one raise at a time on a random entity.
    for (let i = 0; i < samples; i++) await c.request('raise', { entity: `e${Math.floor(Math.random() * entities)}`, type: 'hit' });
    await sleep(200);
    const { firstActionLatencyMs } = (await c.request('stats', {})) as { firstActionLatencyMs: ConditionsResult['latency'] };
    c.close();
    // (2) throughput: raise → log, and the ping floor, same concurrency.
    const pingsPerSec = await blast(socket, raises, 4, 256, () => ['ping', {}]);
    const raisesPerSec = await blast(socket, raises, 4, 256, () => ['raise', { entity: 'tp', type: 'tp' }]);
    return { entities, latency: firstActionLatencyMs, raisesPerSec, pingsPerSec, raises };
  } catch (e) {
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(homePaths(pair.home).daemonLog, 'utf8')
      .split('\n')
      .filter((l) => /"level":"(error|warn)"/.test(l))
      .slice(-8)
      .join('\n');
    throw new Error(`${(e as Error).message}\n--- ham.log warnings ---\n${log}`);
  } finally {
    await pair.close();
  }
}
