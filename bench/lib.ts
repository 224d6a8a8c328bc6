// Shared by the benchmarks: a temporary home with a running pair, a client,
// statistics, and a description of the machine.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import { statusAll } from '../src/client/pages.js';
import { startPair, stopPair } from '../src/cli/daemon.js';
import type { StatusView } from '../src/protocol/views.js';
import { homePaths } from '../src/home.js';
import { childrenOf, findProcesses, startTime } from '../src/proc/procfs.js';
import { keeperProcesses } from '../src/proc/keepers.js';

/** Wall-clock time in ms with µs resolution (comparable with `date +%s%N`). */
export const nowMs = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.ceil(i)]! - s[lo]!) * (i - lo);
}
export const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0));

/** One request on a connection of its own (a long one, as an apply of many is), closed after. */
export async function requestOnce<T>(socket: string, op: string, args: object): Promise<T> {
  const c = await Connection.open(socket, 5000);
  try {
    return (await c.request(op as never, args as never, 60_000)) as T;
  } finally {
    c.close();
  }
}

export interface Pair {
  home: string;
  status(): Promise<StatusView>;
  request(op: 'attach', args: { name: string; argv: string[]; restart: boolean }): Promise<unknown>;
  close(): Promise<void>;
}

export async function startBenchPair(opts: { hangMs?: number; savedMaxBytes?: number } = {}): Promise<Pair> {
  const home = mkdtempSync(join(tmpdir(), 'ham-bench-'));
  await startPair(home, opts);
  const call = async (op: 'status' | 'attach', args: object): Promise<unknown> => {
    for (let i = 0; ; i++) {
      try {
        const c = await Connection.open(homePaths(home).socket, 1000);
        try {
          return op === 'status' ? await statusAll(c) : await c.request(op, args as never); // status in pages
        } finally {
          c.close();
        }
      } catch (e) {
        if (i > 400) throw e;
        await sleep(5);
      }
    }
  };
  return {
    home,
    status: () => call('status', {}) as Promise<StatusView>,
    request: (op, args) => call(op, args),
    async close() {
      await stopPair(home, true).catch(() => undefined);
      killAll(home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export function killAll(needle: string): void {
  const titled = keeperProcesses().filter((k) => k.argv.some((a) => a.includes(needle))); // a keeper's title does not name the home
  const marked = [...new Set([...findProcesses((argv) => argv.some((a) => a.includes(needle))), ...titled.map((k) => k.pid)])];
  // Entities run in their own process groups under their keepers: kill the keepers' children too.
  for (const pid of [...childrenOf(new Set(marked)), ...marked]) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

/** Ping the socket until a HAM other than `oldPid` answers; returns when it did. */
export async function waitNewHam(home: string, oldPid: number, deadlineMs = 15_000): Promise<number> {
  const deadline = nowMs() + deadlineMs;
  while (nowMs() < deadline) {
    try {
      const c = await Connection.open(homePaths(home).socket, 200);
      try {
        const r = (await c.request('ping', {}, 500)) as { pid: number };
        if (r.pid !== oldPid) return nowMs();
      } finally {
        c.close();
      }
    } catch {
      /* not yet */
    }
    await sleep(0.5);
  }
  throw new Error('no new HAM answered');
}

/** The time a child takes from spawn() until it exits: the cost of starting `argv`. */
export function timeSpawnToExit(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', () => resolve(nowMs() - t0));
  });
}

export function alive(pid: number | null): boolean {
  return pid !== null && startTime(pid) !== undefined;
}

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  let distro = '';
  try {
    distro = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    /* none */
  }
  let perl = '';
  try {
    perl = execFileSync('perl', ['-e', 'print $^V'], { encoding: 'utf8' });
  } catch {
    /* none */
  }
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}${distro ? ` (${distro})` : ''}, Node ${process.version}, perl ${perl}`;
}

/** The markers around a section of BENCHMARKS.md that one bench writes on its own. */
export const section = (name: string): { begin: string; end: string } => ({ begin: `<!-- ${name}: written by bench -->`, end: `<!-- /${name} -->` });

/** `doc` with section `name` set to `body` (replacing an earlier one, else at the end). */
export function withSection(doc: string, name: string, body: string): string {
  const { begin, end } = section(name);
  const text = `${begin}\n${body.trim()}\n${end}`;
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a >= 0 && b > a) return doc.slice(0, a) + text + doc.slice(b + end.length);
  return `${doc.trimEnd()}\n\n${text}\n`;
}

/** Section `name` of `doc` with its markers, or '' (kept when the whole file is written anew). */
export function sectionOf(doc: string, name: string): string {
  const { begin, end } = section(name);
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  return a >= 0 && b > a ? doc.slice(a, b + end.length) : '';
}
