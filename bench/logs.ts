// Output through the keeper (README "Output"): how much a chatty entity can
// push through it (MB/s and lines/s) next to `cat` writing the same bytes to a
// file in the same run, the keeper's CPU while it does, and `followLogs`
// latency (a line written → handed to the follower). Keepers run by hand
// here (no HAM): this is the keeper's cost, not the pair's.
// Direct: node dist/bench/logs.js [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { followLogs } from '../src/logs/follow.js';
import { keeperCommand } from '../src/paths.js';
import { fmt, median, quantile } from './lib.js';
import { killAll, waitFor } from '../test/helpers/ham.js';

export interface LogsBench {
  keeper: string;
  mbytes: number;
  lines: number;
  /** Seconds: `cat` of the data into a file; the same `cat` as an entity whose keeper logs it. */
  catToFile: number[];
  throughKeeper: number[];
  /** The keeper's CPU seconds (user + system) per run through it. */
  keeperCpu: number[];
  /** ms from a line's write to followLogs yielding it. */
  followMs: number[];
}

const TICK = 100; // clock ticks a second (USER_HZ)

function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

function records(inbox: string, tag: string): string[] {
  return readdirSync(inbox)
    .filter((f) => f.startsWith(`${tag}-`))
    .map((f) => readFileSync(join(inbox, f), 'utf8').trim());
}

function keeperRun(dir: string, tag: string, argv: string[], logDir: string): ReturnType<typeof spawn> {
  const [bin, ...pre] = keeperCommand().argv as [string, ...string[]];
  const kdir = join(dir, `k-${tag}`);
  mkdirSync(kdir, { recursive: true });
  return spawn(bin, [...pre, kdir, join(dir, 'inbox'), tag, 'start', '--', ...argv], {
    stdio: 'ignore',
    detached: true,
    env: { ...process.env, HAM_LOG_DIR: logDir, HAM_LOG_MAX_BYTES: String(10 << 20), HAM_LOG_KEEP: '3', HAM_KEEPER_ALONE_MS: '200' },
  });
}

export async function benchLogs(opts: { quick?: boolean } = {}): Promise<LogsBench> {
  const runs = opts.quick ? 3 : 7;
  const dir = mkdtempSync(join(tmpdir(), 'ham-bench-logs-'));
  mkdirSync(join(dir, 'inbox'));
  mkdirSync(join(dir, 'logs'));
  try {
    // The data: lines of 100 bytes, as a chatty service writes them.
    const mb = opts.quick ? 32 : 128;
    const data = join(dir, 'data');
    const fd = openSync(data, 'w');
    const block = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `${String(i).padStart(8, '0')} ${'x'.repeat(90)}\n`).join(''));
    for (let written = 0; written < mb << 20; written += block.length) writeSync(fd, block);
    closeSync(fd);
    const size = statSync(data).size;
    const out: LogsBench = {
      keeper: keeperCommand().kind,
      mbytes: size / 2 ** 20,
      lines: size / 100,
      catToFile: [],
      throughKeeper: [],
      keeperCpu: [],
      followMs: [],
    };
    for (let i = 0; i < runs; i++) {
      let t = process.hrtime.bigint();
      spawnSync('sh', ['-c', `cat "${data}" > "${join(dir, 'copy')}"`]);
      out.catToFile.push(Number(process.hrtime.bigint() - t) / 1e9);
      rmSync(join(dir, 'copy'));
      const tag = `t${i}`;
      const logDir = join(dir, 'logs', tag);
      t = process.hrtime.bigint();
      const k = keeperRun(dir, tag, ['cat', data], logDir);
      // Its X record is written after what the pipes held went to the file (klog_settle).
      await waitFor('the cat logged', () => records(join(dir, 'inbox'), tag).some((r) => r.startsWith('X ')), 120_000, 2);
      out.throughKeeper.push(Number(process.hrtime.bigint() - t) / 1e9);
      out.keeperCpu.push(cpuOf(k.pid!));
      k.kill('SIGKILL');
      rmSync(logDir, { recursive: true, force: true });
    }
    // Latency: a line a moment, its write time in it; the follower's receipt time.
    const tag = 'lat';
    const samples = opts.quick ? 30 : 100;
    const script = `$| = 1; for (1..${samples}) { select(undef, undef, undef, 0.03); use Time::HiRes; printf "at %.3f\\n", Time::HiRes::time() * 1000 }`;
    const logDir = join(dir, 'logs', tag);
    const k = keeperRun(dir, tag, ['perl', '-e', script, dir], logDir);
    await waitFor('the folder', () => readdirSync(join(dir, 'logs')).includes(tag));
    const stop = new AbortController();
    const home = dir; // followLogs takes a home: its logs/ is ours
    for await (const l of followLogs(home, { name: tag, n: 0, signal: stop.signal })) {
      const m = /^at (\d+\.\d+)$/.exec(l.line);
      if (m) out.followMs.push(performance.timeOrigin + performance.now() - Number(m[1]));
      if (out.followMs.length >= samples - 1) stop.abort();
    }
    k.kill('SIGKILL');
    return out;
  } finally {
    killAll(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatLogsBench(b: LogsBench): string {
  const mbs = (s: number[]): string => `${fmt(b.mbytes / median(s))} MB/s`;
  return [
    `| output through the ${b.keeper} keeper (${fmt(b.mbytes)} MiB of 100-byte lines) | median | p90 |`,
    '|---|---|---|',
    `| \`cat\` to a file | ${mbs(b.catToFile)} | ${fmt(quantile(b.catToFile, 0.9))} s |`,
    `| \`cat\` as an entity, logged by its keeper | ${mbs(b.throughKeeper)} (${fmt(b.lines / median(b.throughKeeper) / 1e6)} M lines/s) | ${fmt(quantile(b.throughKeeper, 0.9))} s |`,
    `| keeper CPU while logging | ${fmt(median(b.keeperCpu))} s (${fmt((100 * median(b.keeperCpu)) / median(b.throughKeeper))} % of the wall time) | ${fmt(quantile(b.keeperCpu, 0.9))} s |`,
    `| line written → followLogs yields it | ${fmt(median(b.followMs))} ms | ${fmt(quantile(b.followMs, 0.9))} ms |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const b = await benchLogs({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${formatLogsBench(b)}\n`);
}
