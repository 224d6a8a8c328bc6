// The supervisor's own cost with 100 entities: memory (PSS of the HAM, the
// Guardian and the 100 keepers) and CPU while idle. peers.md has the same rows
// for runit, s6, PM2 and supervisord.
import { isDaemonArgv, NANNY_BINARY, WATCH_BINARY } from '../src/paths.js';
import { keeperProcesses } from '../src/proc/keepers.js';
import { findProcesses, memKiB } from '../src/proc/procfs.js';
import { nowMs, sleep, startBenchPair } from './lib.js';
import { settle, sumCpuNs } from './smaps.js';

export interface FootprintResult {
  entities: number;
  daemonsPssKiB: number;
  keepersPssKiB: number;
  perKeeperPssKiB: number;
  idleSeconds: number;
  /** The pair, its C helpers and the keepers. */
  idleCpuPercent: number;
  /** The two Node processes alone (issue 12: ≤ 0.01 % with 100 entities). */
  daemonsIdleCpuPercent: number;
  /** The pair's C helpers alone: the two nannies (guardian/nanny.c), and the watches where they run (their fallback). */
  watchesIdleCpuPercent: number;
}

export async function benchFootprint(entities: number, idleSeconds: number): Promise<FootprintResult> {
  const pair = await startBenchPair();
  try {
    for (let i = 0; i < entities; i++) await pair.request('attach', { name: `svc${i}`, argv: ['sleep', '1000000'], restart: true });
    while ((await pair.status()).entities.some((e) => e.state !== 'running')) await sleep(20);
    const daemons = findProcesses((a) => isDaemonArgv(a, pair.home));
    const keepers = keeperProcesses()
      .filter((k) => k.argv.some((x) => x.startsWith(pair.home)))
      .map((k) => k.pid);
    // The pair's C helpers are ours too: each daemon's nanny, and the watches where a daemon has none.
    const nannies = findProcesses((a) => a[0] === NANNY_BINARY && a.includes(pair.home));
    const watches = [...nannies, ...findProcesses((a) => a[0] === WATCH_BINARY && daemons.includes(Number(a[1])))];
    const all = [...daemons, ...keepers, ...watches];
    // Idle means after start-up: V8 shrinks its heap in a few GCs, some seconds apart, after the
    // attaches, an 8 s timer apart. Wait (up to 90 s) for two 10 s windows in a row in which the
    // daemons use under 3 ms of CPU each.
    // CPU time from schedstat (ns): clock ticks (10 ms) cannot tell 0.01 % from 0 over a minute.
    await settle(daemons, 10_000, 3_000_000, 90_000, 2);
    const t0 = nowMs();
    const [c0, d0, w0] = [sumCpuNs(all), sumCpuNs(daemons), sumCpuNs(watches)];
    await sleep(idleSeconds * 1000);
    const [c1, d1, w1] = [sumCpuNs(all), sumCpuNs(daemons), sumCpuNs(watches)];
    const wall = (nowMs() - t0) / 1000;
    const percent = (ns: number): number => (ns / 1e9 / wall) * 100;
    // The pair: both daemons and their helpers.
    const daemonsPss = [...daemons, ...watches].reduce((n, p) => n + memKiB(p, 'smaps_rollup', 'Pss'), 0);
    const keepersPss = keepers.reduce((n, p) => n + memKiB(p, 'smaps_rollup', 'Pss'), 0);
    return {
      entities,
      daemonsPssKiB: daemonsPss,
      keepersPssKiB: keepersPss,
      perKeeperPssKiB: keepersPss / Math.max(1, keepers.length),
      idleSeconds: wall,
      idleCpuPercent: percent(c1 - c0),
      daemonsIdleCpuPercent: percent(d1 - d0),
      watchesIdleCpuPercent: percent(w1 - w0),
    };
  } finally {
    await pair.close();
  }
}
