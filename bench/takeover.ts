// How fast the pair heals itself: HAM SIGKILL → the new HAM answers the
// control socket (vs `node -e 0`, the cost of starting any Node process),
// the full pair restored (new Guardian registered), and a hung HAM (SIGSTOP)
// → taken over, against the hang threshold.
import { alive, median, nowMs, sleep, startBenchPair, timeSpawnToExit, waitNewHam, type Pair } from './lib.js';

export interface TakeoverResult {
  nodeStart: number[];
  answered: number[];
  pairRestored: number[];
  hangMs: number;
  hangTakeover: number[];
}

async function pairWhole(pair: Pair, notGuardian: number): Promise<number> {
  for (;;) {
    try {
      const s = await pair.status();
      if (s.guardian.pid !== null && s.guardian.pid !== notGuardian && alive(s.guardian.pid)) return nowMs();
    } catch {
      /* mid-takeover */
    }
    await sleep(1);
  }
}

export async function benchTakeover(n: number, hangRounds: number): Promise<TakeoverResult> {
  const nodeStart: number[] = [];
  for (let i = 0; i < 10; i++) nodeStart.push(await timeSpawnToExit([process.execPath, '-e', '0']));
  const hangMs = 1000;
  const pair = await startBenchPair({ hangMs });
  const answered: number[] = [];
  const pairRestored: number[] = [];
  const hangTakeover: number[] = [];
  try {
    await pair.request('attach', { name: 'svc', argv: ['sleep', '1000000'], restart: true });
    for (let i = 0; i < n; i++) {
      const s = await pair.status();
      await sleep(300); // let the new Guardian settle before the next kill
      const t0 = nowMs();
      process.kill(s.ham.pid!, 'SIGKILL');
      answered.push((await waitNewHam(pair.home, s.ham.pid!)) - t0);
      pairRestored.push((await pairWhole(pair, s.guardian.pid!)) - t0);
    }
    for (let i = 0; i < hangRounds; i++) {
      const s = await pair.status();
      await sleep(300);
      const t0 = nowMs();
      process.kill(s.ham.pid!, 'SIGSTOP');
      hangTakeover.push((await waitNewHam(pair.home, s.ham.pid!)) - t0);
      await pairWhole(pair, s.guardian.pid!);
    }
  } finally {
    await pair.close();
  }
  return { nodeStart, answered, pairRestored, hangMs, hangTakeover };
}
