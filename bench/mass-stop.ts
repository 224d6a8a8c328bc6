// A mass stop: `ham stop --all` with N running entities (sleep, each with its log), timed from
// the CLI's start to its exit (the pair gone) and to the last of ham's processes gone (every
// keeper and its log drain: a drain that scanned /proc per check made this O(N²)).
import { execFile } from 'node:child_process';
import { CLI_MAIN } from '../src/paths.js';
import { findProcesses } from '../src/proc/procfs.js';
import { homePaths } from '../src/home.js';
import { nowMs, requestOnce, sleep, startBenchPair } from './lib.js';

export interface MassStopResult {
  entities: number;
  /** `ham stop --all` run as a user runs it: spawn → exit (ms). */
  stopCliMs: number;
  /** The same start → no process of this home left (keepers, drains, entities) (ms). */
  allGoneMs: number;
}

const cli = (home: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [CLI_MAIN, '--home', home, ...args], { maxBuffer: 1 << 30 }, (err, out) => (err ? reject(err) : resolve(out))),
  );

const ours = (home: string): number[] => findProcesses((argv) => argv.some((a) => a.includes(home)));

export async function benchMassStop(n: number): Promise<MassStopResult> {
  const pair = await startBenchPair({ hangMs: 3000 });
  try {
    const entities = Object.fromEntries(Array.from({ length: n }, (_, i) => [`ms${i}`, { command: ['sleep', '100000'] }]));
    await requestOnce(homePaths(pair.home).socket, 'apply', { config: { entities } });
    const deadline = nowMs() + Math.max(60_000, n * 100);
    while ((await pair.status()).entities.filter((e) => e.state === 'running').length < n) {
      if (nowMs() > deadline) throw new Error(`not all ${n} running`);
      await sleep(200);
    }
    const t0 = nowMs();
    await cli(pair.home, ['stop', '--all']);
    const stopCliMs = nowMs() - t0;
    const goneBy = nowMs() + Math.max(120_000, n * 500);
    while (ours(pair.home).length > 0) {
      if (nowMs() > goneBy) throw new Error(`${ours(pair.home).length} processes of the home left`);
      await sleep(20);
    }
    return { entities: n, stopCliMs, allGoneMs: nowMs() - t0 };
  } finally {
    await pair.close();
  }
}
