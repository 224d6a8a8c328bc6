// Crash-loop soak: 20 entities whose program exits at once, for a minute.
// Ten have a restart intensity (at most 100 restarts, then escalate once and
// end failed): their counts must be exactly the policy's. Ten restart forever
// after a fixed 100 ms: every death must be restarted exactly once. Meanwhile
// the HAM's RSS is sampled every second and its CPU time is read from /proc.
import type { StatusView } from '../src/protocol/views.js';
import { homePaths } from '../src/home.js';
import { cpuTicks, memKiB } from '../src/proc/procfs.js';
import { median, nowMs, sleep, startBenchPair, requestOnce } from './lib.js';

export interface SoakResult {
  seconds: number;
  limited: { entities: number; max: number; restarts: number[]; escalations: number; failed: number };
  forever: { entities: number; deaths: number; restarts: number; unaccounted: number; perEntityPerSec: number };
  /**
   * Sampled every second. V8's heap breathes by several MiB between collections, so growth
   * compares medians of windows: 10–20 s (after the apply settles) against the last 10 s.
   */
  rssMiB: { early: number; late: number; max: number; slopePerMin: number; series: number[] };
  hamCpuPercent: number;
}

/** Least-squares slope of samples taken once a second (units per second): a leak shows as a steady climb. */
function slope(ys: number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

export async function benchSoak(seconds: number): Promise<SoakResult> {
  // Reached in about a third of the run (a restart every ~210 ms), so the count is final when we look.
  const LIMIT = Math.min(100, Math.floor((seconds * 1000) / 210 / 3));
  const pair = await startBenchPair({ hangMs: 5000 });
  const socket = homePaths(pair.home).socket;
  const call = <T>(op: string, args: object): Promise<T> => requestOnce<T>(socket, op, args);
  try {
    const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };
    const entities: Record<string, object> = {};
    for (let i = 0; i < 10; i++) {
      entities[`limited${i}`] = {
        command: ['sh', '-c', 'exit 1'],
        conditions: { died },
        restart: {
          backoff: { initialMs: 200, factor: 1, maxMs: 200, resetAfterMs: 3_600_000 },
          intensity: { max: LIMIT, withinMs: 3_600_000 },
          escalate: [{ kind: 'log', message: 'gave up' }],
        },
      };
      entities[`forever${i}`] = {
        command: ['sh', '-c', 'exit 1'],
        conditions: { died },
        restart: { backoff: { initialMs: 100, factor: 1, maxMs: 100, resetAfterMs: 3_600_000 } },
      };
    }
    const ham = (await pair.status()).ham.pid!;
    const t0 = nowMs();
    const c0 = cpuTicks(ham);
    await call('apply', { config: { entities } });
    const rss: number[] = [];
    while (nowMs() - t0 < seconds * 1000) {
      await sleep(1000);
      rss.push(memKiB(ham, 'status', 'VmRSS'));
    }
    const c1 = cpuTicks(ham);
    const wall = (nowMs() - t0) / 1000;
    // Stop the loops (the HAM's own stop), then read the counters it left.
    const s = await call<StatusView>('status', {});
    const lim = s.entities.filter((e) => e.name.startsWith('limited'));
    const fov = s.entities.filter((e) => e.name.startsWith('forever'));
    const escalations = lim.reduce((n, e) => n + (e.conditions.find((c) => c.name === 'escalate')?.fired ?? 0), 0);
    const deaths = fov.reduce((n, e) => n + e.deaths, 0);
    const restarts = fov.reduce((n, e) => n + e.restarts, 0);
    // A death not (yet) followed by its restart: the one in its backoff at the moment we looked.
    const pending = fov.filter((e) => e.state !== 'running').length;
    return {
      seconds: wall,
      limited: { entities: lim.length, max: LIMIT, restarts: lim.map((e) => e.restarts), escalations, failed: lim.filter((e) => e.state === 'failed').length },
      forever: { entities: fov.length, deaths, restarts, unaccounted: deaths - restarts - pending, perEntityPerSec: restarts / fov.length / wall },
      rssMiB: {
        early: median(rss.slice(9, 19)) / 1024,
        late: median(rss.slice(-10)) / 1024,
        max: Math.max(...rss) / 1024,
        slopePerMin: (slope(rss.slice(9)) * 60) / 1024,
        series: rss.map((k) => Math.round(k / 1024)),
      },
      hamCpuPercent: ((c1 - c0) / 100 / wall) * 100,
    };
  } finally {
    await pair.close();
  }
}
