// Starting many: `apply` N spawned entities (sleep) and time apply → all
// running, next to a bare harness starting the same N processes in the same
// run; then, with N running, the whole of ham's memory (the pair, its watches,
// the launcher and every keeper, PSS), how long `ham --json status` takes, and
// a SIGKILLed HAM taken over: every entity adopted (same pid), none restarted.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI_MAIN, isDaemonArgv, LAUNCHER_BINARY, WATCH_BINARY } from '../src/paths.js';
import { keeperProcesses } from '../src/proc/keepers.js';
import { Connection } from '../src/client/connection.js';
import { statusAll } from '../src/client/pages.js';
import { homePaths } from '../src/home.js';
import { findProcesses, memKiB } from '../src/proc/procfs.js';
import type { StatusView } from '../src/protocol/views.js';
import { nowMs, sleep, startBenchPair, waitNewHam } from './lib.js';

export interface ManyResult {
  entities: number;
  /** apply sent → every entity running (ms). */
  applyToRunningMs: number;
  /** The bare harness: spawn() the same N sleeps from Node, until the last has started (ms). */
  bareMs: number;
  /** The HAM and its Guardian were the same after the start (no takeover while starting). */
  sameHam: boolean;
  pairPssKiB: number;
  keepersPssKiB: number;
  keepers: number;
  /** `ham --json status` as a user runs it (a new CLI process, every page). */
  statusJsonMs: number;
  /** SIGKILL of the HAM → every entity running again under the new HAM (ms). */
  takeoverAllAdoptedMs: number;
  adoptedSamePid: number;
  restarted: number;
}

async function request(home: string, op: string, args: object, timeoutMs = 120_000): Promise<unknown> {
  const c = await Connection.open(homePaths(home).socket, 5000);
  try {
    return await c.request(op as never, args as never, timeoutMs);
  } finally {
    c.close();
  }
}

/** The bare harness: N `sleep`s spawned from Node, timed until the last one's 'spawn' event; then killed. */
async function bare(n: number): Promise<number> {
  const t0 = nowMs();
  const kids: ReturnType<typeof spawn>[] = [];
  let up = 0;
  const all = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const c = spawn('sleep', ['100000'], { stdio: 'ignore', detached: true });
      c.once('spawn', () => ++up === n && resolve());
      c.once('error', () => ++up === n && resolve());
      kids.push(c);
    }
  });
  await all;
  const ms = nowMs() - t0;
  for (const c of kids) c.kill('SIGKILL');
  await sleep(200);
  return ms;
}

/** The whole status over the socket, or undefined while no HAM answers (a takeover). */
async function allStatus(home: string): Promise<StatusView | undefined> {
  try {
    const c = await Connection.open(homePaths(home).socket, 5000);
    try {
      return await statusAll(c, undefined, 60_000);
    } finally {
      c.close();
    }
  } catch {
    return undefined;
  }
}

function statusJson(home: string): Promise<{ ms: number; view: StatusView }> {
  const t0 = nowMs();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CLI_MAIN, '--home', home, '--json', 'status'], { maxBuffer: 1 << 30 }, (err, out) =>
      err ? reject(err) : resolve({ ms: nowMs() - t0, view: JSON.parse(out) as StatusView }),
    ),
  );
}

async function waitAllRunning(home: string, n: number, deadlineMs: number, everyMs: number, ok: (v: StatusView) => boolean = () => true): Promise<StatusView> {
  const deadline = nowMs() + deadlineMs;
  for (;;) {
    try {
      const { view } = await statusJson(home);
      if (view.entities.filter((e) => e.state === 'running').length === n && ok(view)) return view;
    } catch {
      /* a takeover under way */
    }
    if (nowMs() > deadline) throw new Error(`not all ${n} entities running after ${deadlineMs} ms`);
    await sleep(everyMs);
  }
}

export async function benchMany(n: number): Promise<ManyResult> {
  const bareMs = await bare(n);
  const pair = await startBenchPair({ hangMs: 3000 });
  try {
    const before = (await statusJson(pair.home)).view.ham;
    const entities = Object.fromEntries(Array.from({ length: n }, (_, i) => [`many${i}`, { command: ['sleep', '100000'] }]));
    // Each poll is a whole status (pages of every entity): at 10,000 it costs the HAM ~0.5 s of CPU.
    const every = n > 1000 ? 1000 : 5;
    const t0 = nowMs();
    await request(pair.home, 'apply', { config: { entities } });
    // The running count is polled through status pages: the time includes up to one poll period.
    const deadline = nowMs() + Math.max(60_000, n * 20);
    let running: StatusView | undefined;
    for (;;) {
      const got = await allStatus(pair.home);
      if (got) running = got;
      if (got && got.entities.filter((e) => e.state === 'running').length === n) break;
      if (nowMs() > deadline) throw new Error(`not all ${n} running after ${deadline - t0} ms`);
      await sleep(every);
    }
    const applyToRunningMs = nowMs() - t0;
    const sameHam = running!.ham.pid === before.pid && running!.ham.epoch === before.epoch;
    await sleep(Math.min(10_000, 1000 + n)); // let V8 settle after the burst
    const daemons = findProcesses((a) => isDaemonArgv(a, pair.home));
    const watches = findProcesses((a) => a[0] === WATCH_BINARY && daemons.includes(Number(a[1])));
    const launchers = findProcesses((a) => a[0] === LAUNCHER_BINARY).filter((p) => daemons.some((d) => isChildOf(p, d)));
    const keepers = keeperProcesses()
      .filter((k) => k.argv.some((x) => x.startsWith(pair.home)))
      .map((k) => k.pid);
    const pss = (ps: number[]): number => ps.reduce((s, p) => s + memKiB(p, 'smaps_rollup', 'Pss'), 0);
    const status = await statusJson(pair.home);
    const pids = new Map(status.view.entities.map((e) => [e.name, e.pid]));
    const restartsBefore = status.view.entities.reduce((s, e) => s + e.restarts, 0);
    // Takeover: SIGKILL the HAM; the Guardian takes over and adopts every entity.
    const hamPid = status.view.ham.pid!;
    const k0 = nowMs();
    process.kill(hamPid, 'SIGKILL');
    await waitNewHam(pair.home, hamPid, 60_000);
    const after = await waitAllRunning(pair.home, n, Math.max(60_000, n * 10), every, (v) => v.ham.pid !== hamPid);
    const takeoverAllAdoptedMs = nowMs() - k0;
    return {
      entities: n,
      applyToRunningMs,
      bareMs,
      sameHam,
      pairPssKiB: pss([...daemons, ...watches, ...launchers]),
      keepersPssKiB: pss(keepers),
      keepers: keepers.length,
      statusJsonMs: status.ms,
      takeoverAllAdoptedMs,
      adoptedSamePid: after.entities.filter((e) => e.pid !== null && e.pid === pids.get(e.name)).length,
      restarted: after.entities.reduce((s, e) => s + e.restarts, 0) - restartsBefore,
    };
  } catch (e) {
    // Say what the pair did (a takeover under load?) before its home goes.
    const tail = (() => {
      try {
        return readFileSync(homePaths(pair.home).daemonLog, 'utf8')
          .split('\n')
          .filter((l) => l && !l.includes('"keeper record'))
          .slice(-12)
          .join('\n');
      } catch {
        return '(no daemon log)';
      }
    })();
    throw new Error(`${n} entities: ${(e as Error).message}\n--- daemon log, records left out ---\n${tail}`);
  } finally {
    await pair.close();
  }
}

function isChildOf(pid: number, parent: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
  } catch {
    return false;
  }
}

/** One line per size, as the other benches print. */
export function formatMany(r: ManyResult): string {
  const mib = (k: number): string => (k / 1024).toFixed(1);
  return (
    `${r.entities} entities: apply → all running ${r.applyToRunningMs.toFixed(0)} ms (bare spawn ${r.bareMs.toFixed(0)} ms), ` +
    `${r.sameHam ? 'no takeover while starting' : 'A TAKEOVER WHILE STARTING'}; ham ${mib(r.pairPssKiB + r.keepersPssKiB)} MiB PSS ` +
    `(pair ${mib(r.pairPssKiB)}, ${r.keepers} keepers ${mib(r.keepersPssKiB)}); status --json ${r.statusJsonMs.toFixed(0)} ms; ` +
    `HAM SIGKILL → all running ${r.takeoverAllAdoptedMs.toFixed(0)} ms, ${r.adoptedSamePid}/${r.entities} adopted, ${r.restarted} restarted`
  );
}

if (process.argv[1]?.endsWith('many.js') && process.argv[2]) {
  for (const n of process.argv.slice(2).map(Number)) console.log(formatMany(await benchMany(n)));
}
