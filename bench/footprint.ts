// The supervisor's own cost with 100 entities: memory (PSS of the HAM, the
// Guardian and the 100 keepers) and CPU while idle. peers.md has the same rows
// for runit, s6, PM2 and supervisord.
import { isKeeperArgv, WATCH_BINARY } from '../src/paths.js';
import { cpuTicks, findProcesses, memKiB } from '../src/proc/procfs.js';
import { nowMs, sleep, startBenchPair } from './lib.js';

export interface FootprintResult {
  entities: number;
  daemonsPssKiB: number;
  keepersPssKiB: number;
  perKeeperPssKiB: number;
  idleSeconds: number;
  idleCpuPercent: number;
}

export async function benchFootprint(entities: number, idleSeconds: number): Promise<FootprintResult> {
  const pair = await startBenchPair();
  try {
    for (let i = 0; i < entities; i++) await pair.request('attach', { name: `svc${i}`, argv: ['sleep', '1000000'], restart: true });
    while ((await pair.status()).entities.some((e) => e.state !== 'running')) await sleep(20);
    const daemons = findProcesses((a) => a.some((x) => x.endsWith('daemon/main.js')) && a.includes(pair.home));
    const keepers = findProcesses((a) => isKeeperArgv(a) && a.some((x) => x.startsWith(pair.home)));
    // The pair's watches (guardian/watch.c: one on each daemon) are ours too.
    const watches = findProcesses((a) => a[0] === WATCH_BINARY && daemons.includes(Number(a[1])));
    const all = [...daemons, ...keepers, ...watches];
    // Idle means after start-up: V8 collects garbage for a few seconds after the attaches.
    // Wait (up to 20 s) for 2 s in which the daemons use no CPU at all, as an operator's machine would be.
    for (let waited = 0; waited < 20_000; waited += 2000) {
      const before = daemons.reduce((n, p) => n + cpuTicks(p), 0);
      await sleep(2000);
      if (daemons.reduce((n, p) => n + cpuTicks(p), 0) === before) break;
    }
    const t0 = nowMs();
    const c0 = all.reduce((n, p) => n + cpuTicks(p), 0);
    await sleep(idleSeconds * 1000);
    const c1 = all.reduce((n, p) => n + cpuTicks(p), 0);
    const wall = (nowMs() - t0) / 1000;
    // The pair: both daemons and their watches.
    const daemonsPss = [...daemons, ...watches].reduce((n, p) => n + memKiB(p, 'smaps_rollup', 'Pss'), 0);
    const keepersPss = keepers.reduce((n, p) => n + memKiB(p, 'smaps_rollup', 'Pss'), 0);
    return {
      entities,
      daemonsPssKiB: daemonsPss,
      keepersPssKiB: keepersPss,
      perKeeperPssKiB: keepersPss / Math.max(1, keepers.length),
      idleSeconds: wall,
      idleCpuPercent: ((c1 - c0) / 100 / wall) * 100,
    };
  } finally {
    await pair.close();
  }
}
