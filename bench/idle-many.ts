// Issue 12's idle rows beyond 100 entities: the pair's own CPU while N entities
// sit idle (placeholders by default: no keepers, so only the two daemons and
// their nannies count; `sleep` entities with BENCH_IDLE_SPAWN=1), per process,
// once the daemons came to rest (V8 shrinks a heap in a few GCs some seconds
// after a burst: on 10,000 entities each costs tens of ms, so the window starts
// after them). Also each daemon's PSS in the same run.
//   node dist/bench/idle-many.js [N=10000] [IDLE_S=60]
import { pathToFileURL } from 'node:url';
import { NANNY_BINARY } from '../src/paths.js';
import { findProcesses, memKiB } from '../src/proc/procfs.js';
import { homePaths } from '../src/home.js';
import { nowMs, requestOnce, sleep, startBenchPair } from './lib.js';
import { settle, sumCpuNs } from './smaps.js';

export interface IdleManyResult {
  entities: number;
  spawned: boolean;
  idleSeconds: number;
  /** Waited for the daemons to come to rest before the window (ms). */
  settledMs: number;
  /** % of one core over the window. */
  hamCpuPercent: number;
  guardianCpuPercent: number;
  nanniesCpuPercent: number;
  pairCpuPercent: number;
  hamPssKiB: number;
  guardianPssKiB: number;
  /** The HAM answered as the same process throughout (no takeover). */
  sameHam: boolean;
}

export async function benchIdleMany(n: number, idleSeconds: number, spawned = false): Promise<IdleManyResult> {
  const pair = await startBenchPair({ hangMs: 3000 });
  try {
    const before = (await pair.status()).ham;
    const entity = spawned ? { command: ['sleep', '1000000'] } : { placeholder: true };
    const entities = Object.fromEntries(Array.from({ length: n }, (_, i) => [`idle${i}`, entity]));
    await requestOnce(homePaths(pair.home).socket, 'apply', { config: { entities } });
    if (spawned) while ((await pair.status()).entities.some((e) => e.state !== 'running')) await sleep(1000);
    const role = (r: string): number[] =>
      findProcesses((a) => a[0] !== NANNY_BINARY && a.some((x) => x.endsWith('daemon/main.js')) && a.includes(pair.home) && a.includes(r));
    const [ham] = role('ham');
    const [guardian] = role('guardian');
    if (ham === undefined || guardian === undefined) throw new Error(`idle bench: expected a HAM and a Guardian on ${pair.home}`);
    const nannies = findProcesses((a) => a[0] === NANNY_BINARY && a.includes(pair.home));
    // At rest: two 10 s windows in a row under 3 ms of CPU each (up to 3 min: a 10,000-entity heap shrinks slowly).
    const settledMs = await settle([ham, guardian], 10_000, 3_000_000, 180_000, 2);
    const t0 = nowMs();
    const c0 = [sumCpuNs([ham]), sumCpuNs([guardian]), sumCpuNs(nannies)];
    await sleep(idleSeconds * 1000);
    const c1 = [sumCpuNs([ham]), sumCpuNs([guardian]), sumCpuNs(nannies)];
    const wall = (nowMs() - t0) / 1000;
    const pct = (i: number): number => ((c1[i]! - c0[i]!) / 1e9 / wall) * 100;
    const after = (await pair.status()).ham;
    return {
      entities: n,
      spawned,
      idleSeconds: wall,
      settledMs,
      hamCpuPercent: pct(0),
      guardianCpuPercent: pct(1),
      nanniesCpuPercent: pct(2),
      pairCpuPercent: pct(0) + pct(1) + pct(2),
      hamPssKiB: memKiB(ham, 'smaps_rollup', 'Pss'),
      guardianPssKiB: memKiB(guardian, 'smaps_rollup', 'Pss'),
      sameHam: after.pid === before.pid && after.epoch === before.epoch,
    };
  } finally {
    await pair.close();
  }
}

export function formatIdleMany(r: IdleManyResult): string {
  const p = (x: number): string => `${x.toFixed(4)} %`;
  const mib = (k: number): string => `${(k / 1024).toFixed(1)} MiB`;
  return (
    `${r.entities} ${r.spawned ? 'sleeping' : 'placeholder'} entities, idle over ${r.idleSeconds.toFixed(0)} s ` +
    `(after ${(r.settledMs / 1000).toFixed(0)} s to come to rest): pair ${p(r.pairCpuPercent)} of a core ` +
    `(HAM ${p(r.hamCpuPercent)}, Guardian ${p(r.guardianCpuPercent)}, nannies ${p(r.nanniesCpuPercent)}); ` +
    `PSS HAM ${mib(r.hamPssKiB)}, Guardian ${mib(r.guardianPssKiB)}; ${r.sameHam ? 'no takeover' : '**a takeover**'}`
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchIdleMany(Number(process.argv[2] ?? 10_000), Number(process.argv[3] ?? 60), process.env.BENCH_IDLE_SPAWN === '1').then(
    (r) => {
      process.stdout.write(`${formatIdleMany(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`idle bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
