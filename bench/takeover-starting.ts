// A takeover in the middle of starting many: apply N entities, SIGKILL the
// HAM as soon as its launcher runs (most starts still in its pipe, some of its
// children between the keeper folder's marker and the exec), and time kill →
// the new HAM answers (its resume: reconcile finds what was started, by one
// scan of /proc and the markers) and kill → every entity running. Also counts
// the keepers, which must be N (none started twice).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { homePaths } from '../src/home.js';
import { LAUNCHER_BINARY } from '../src/paths.js';
import { keeperProcesses } from '../src/proc/keepers.js';
import { findProcesses } from '../src/proc/procfs.js';
import { nowMs, requestOnce, sleep, startBenchPair, waitNewHam } from './lib.js';

export interface TakeoverStartingResult {
  n: number;
  /** HAM SIGKILL → a new HAM answers (ms), per round. */
  answered: number[];
  /** HAM SIGKILL → all N running (ms), per round. */
  allRunning: number[];
  /** Keepers of the home once all ran, per round (N: each started once). */
  keepers: number[];
}

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
};

export async function benchTakeoverStarting(n: number, rounds: number): Promise<TakeoverStartingResult> {
  const out: TakeoverStartingResult = { n, answered: [], allRunning: [], keepers: [] };
  for (let r = 0; r < rounds; r++) {
    const pair = await startBenchPair({ hangMs: 3000 });
    try {
      const ham = (await pair.status()).ham.pid!;
      const entities = Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, { command: ['sleep', String(3_000_000 + i)] }]));
      await requestOnce(homePaths(pair.home).socket, 'apply', { config: { entities } });
      const deadline = nowMs() + 30_000;
      while (!findProcesses((a) => a[0] === LAUNCHER_BINARY).some((p) => parentOf(p) === ham)) {
        if (nowMs() > deadline) throw new Error('no launcher started');
        await sleep(1);
      }
      const t0 = nowMs();
      process.kill(ham, 'SIGKILL');
      out.answered.push((await waitNewHam(pair.home, ham, 60_000)) - t0);
      for (;;) {
        const s = await pair.status().catch(() => undefined);
        if (s && s.entities.filter((e) => e.state === 'running').length === n) break;
        if (nowMs() > t0 + 120_000) throw new Error(`not all ${n} running 120 s after the takeover`);
        await sleep(20);
      }
      out.allRunning.push(nowMs() - t0);
      out.keepers.push(
        keeperProcesses()
          .filter((k) => k.argv.some((x) => x.startsWith(pair.home)))
          .map((k) => k.pid).length,
      );
    } finally {
      await pair.close();
    }
  }
  return out;
}

// `node dist/bench/takeover-starting.js [N] [ROUNDS]` runs it alone.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [n, rounds] = [Number(process.argv[2] ?? 300), Number(process.argv[3] ?? 3)];
  void benchTakeoverStarting(n, rounds).then((x) => process.stdout.write(`${JSON.stringify(x)}\n`));
}
