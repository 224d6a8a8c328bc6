// Entity death → new process running, against a bare spawn of the same
// program from this harness. The program (as in peers.md): sh appends a
// timestamp, then execs sleep; latency = that timestamp − the moment of kill
// (bare: − the moment of spawn()).
import { spawn } from 'node:child_process';
import { readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive, killAll, median, nowMs, quantile, sleep, startBenchPair, waitNewHam, type Pair } from './lib.js';

const program = (file: string): string[] => ['sh', '-c', 'echo $(date +%s%N) >> "$0"; exec sleep 1000000', file];

function lines(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l) / 1e6);
  } catch {
    return [];
  }
}

/** Resolve with the (n+1)-th timestamp once it is in the file (inotify, no busy polling). */
function nextStamp(file: string, n: number, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const l = lines(file);
      if (l.length <= n) return false;
      w.close();
      clearTimeout(timer);
      resolve(l[n]!);
      return true;
    };
    const w = watch(file, check);
    const timer = setTimeout(() => {
      w.close();
      reject(new Error(`no timestamp #${n + 1} in ${file}`));
    }, timeoutMs);
    check();
  });
}

export interface RestartResult {
  bare: number[];
  hamParent: number[];
  afterTakeover: number[];
}

async function bare(dir: string, n: number): Promise<number[]> {
  const file = join(dir, 'bare-stamps');
  writeFileSync(file, '');
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    const argv = program(file);
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: true });
    out.push((await nextStamp(file, i)) - t0);
    process.kill(-c.pid!, 'SIGKILL');
    await sleep(50);
  }
  return out;
}

async function kills(pair: Pair, name: string, file: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const seen = lines(file).length;
    const s = await pair.status();
    const pid = s.entities.find((e) => e.name === name)!.pid!;
    // Let it count as stable (≥ 1 s up), so the backoff policy restarts at once.
    await sleep(1100);
    const t0 = nowMs();
    process.kill(pid, 'SIGKILL');
    out.push((await nextStamp(file, seen)) - t0);
    while ((await pair.status()).entities.find((e) => e.name === name)!.pid === pid || alive(pid)) await sleep(5);
  }
  return out;
}

export async function benchRestart(n: number): Promise<RestartResult> {
  const pair = await startBenchPair();
  try {
    const file = join(pair.home, 'stamps');
    writeFileSync(file, '');
    const bareMs = await bare(pair.home, n);
    await pair.request('attach', { name: 'svc', argv: program(file), restart: true });
    await nextStamp(file, 0);
    const hamParent = await kills(pair, 'svc', file, n);
    // Now a HAM that never spawned it: kill the HAM, let the Guardian take over.
    const s = await pair.status();
    process.kill(s.ham.pid!, 'SIGKILL');
    await waitNewHam(pair.home, s.ham.pid!);
    const afterTakeover = await kills(pair, 'svc', file, n);
    return { bare: bareMs, hamParent, afterTakeover };
  } finally {
    await pair.close();
    killAll(pair.home);
  }
}

export function summarizeRestart(r: RestartResult): { row: string; bare: number; ham: number; taken: number } {
  const b = median(r.bare);
  const h = median(r.hamParent);
  const t = median(r.afterTakeover);
  return { bare: b, ham: h, taken: t, row: `${h}/${t} vs ${b}; p90 ${quantile(r.hamParent, 0.9)}` };
}
