// The supervisor's own cost with 100 entities: memory (PSS of the HAM, the
// Guardian and the 100 keepers) and CPU while idle. peers.md has the same rows
// for runit, s6, PM2 and supervisord.
import { isKeeperArgv } from '../src/paths.js';
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
    await sleep(2000); // let start-up garbage be collected before measuring
    const daemons = findProcesses((a) => a.some((x) => x.endsWith('daemon/main.js')) && a.includes(pair.home));
    const keepers = findProcesses((a) => isKeeperArgv(a) && a.some((x) => x.startsWith(pair.home)));
    const all = [...daemons, ...keepers];
    const t0 = nowMs();
    const c0 = all.reduce((n, p) => n + cpuTicks(p), 0);
    await sleep(idleSeconds * 1000);
    const c1 = all.reduce((n, p) => n + cpuTicks(p), 0);
    const wall = (nowMs() - t0) / 1000;
    const daemonsPss = daemons.reduce((n, p) => n + memKiB(p, 'smaps_rollup', 'Pss'), 0);
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
