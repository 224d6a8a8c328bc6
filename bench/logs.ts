// Output through the keeper (README "Output"), each figure beside its physical
// limit measured in the same run: how much a chatty entity can push through it
// (MiB/s and lines/s) next to the same entity writing straight to a file (and
// `cat` to a file: the disk's own limit), the keeper's CPU while it logs, and
// `ham logs -f` latency (a line written → printed by the CLI) next to `tail -f`
// on the same file. Keepers run by hand here (no HAM): the keeper's cost, not the pair's.
// Direct: node dist/bench/logs.js [--quick]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_MAIN, keeperCommand } from '../src/paths.js';
import { fmt, median, quantile } from './lib.js';
import { killAll, waitFor } from '../test/helpers/ham.js';

/** Seconds per run of each way of writing the same data. */
interface Ways {
  /** `cat` (64 KiB writes) into a file: the disk's limit. */
  catToFile: number[];
  /** The entity (a write per line, as a line-buffered service) straight into a file. */
  entityToFile: number[];
  /** The same `cat`, and the same entity, as entities logged by their keeper. */
  catThroughKeeper: number[];
  entityThroughKeeper: number[];
}

export interface LogsBench extends Ways {
  keeper: string;
  mbytes: number;
  lines: number;
  /** The keeper's CPU seconds (user + system) per run, for the `cat` and for the entity. */
  catKeeperCpu: number[];
  entityKeeperCpu: number[];
  /** ms from a line's write to `ham logs -f NAME` printing it, and to `tail -f` printing it (the same lines). */
  followMs: number[];
  tailMs: number[];
}

const TICK = 100; // clock ticks a second (USER_HZ)
/** A line-buffered service: each line of the file its own write(2). */
const ENTITY = 'open my $f, "<", $ARGV[0] or die; while (<$f>) { syswrite STDOUT, $_ }';

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

function keeperRun(dir: string, tag: string, argv: string[], logDir: string): ChildProcess {
  const [bin, ...pre] = keeperCommand().argv as [string, ...string[]];
  const kdir = join(dir, `k-${tag}`);
  mkdirSync(kdir, { recursive: true });
  return spawn(bin, [...pre, kdir, join(dir, 'inbox'), tag, 'start', '--', ...argv], {
    stdio: 'ignore',
    detached: true,
    env: { ...process.env, HAM_LOG_DIR: logDir, HAM_LOG_MAX_BYTES: String(10 << 20), HAM_LOG_KEEP: '3', HAM_KEEPER_ALONE_MS: '200' },
  });
}

const seconds = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;

/** `argv` with its stdout into a file: seconds. */
function toFile(dir: string, argv: string[]): number {
  const copy = join(dir, 'copy');
  const fd = openSync(copy, 'w');
  const t = process.hrtime.bigint();
  spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, 'ignore'] });
  const s = seconds(t);
  closeSync(fd);
  rmSync(copy);
  return s;
}

/** `argv` as an entity whose keeper logs it: seconds until all of it is in the log (its X record comes after), and the keeper's CPU. */
async function throughKeeper(dir: string, tag: string, argv: string[]): Promise<{ s: number; cpu: number }> {
  const logDir = join(dir, 'logs', tag);
  const t = process.hrtime.bigint();
  const k = keeperRun(dir, tag, argv, logDir);
  // Its X record is written after what the pipes held went to the file (klog_settle).
  await waitFor('the output logged', () => records(join(dir, 'inbox'), tag).some((r) => r.startsWith('X ')), 300_000, 2);
  const s = seconds(t);
  const cpu = cpuOf(k.pid!);
  k.kill('SIGKILL');
  rmSync(logDir, { recursive: true, force: true });
  return { s, cpu };
}

/** Lines "at MS" printed by `p`: ms from each one's write to its arrival here. */
function lateness(p: ChildProcess, into: number[]): void {
  let rest = '';
  p.stdout!.on('data', (b: Buffer) => {
    const now = performance.timeOrigin + performance.now();
    const lines = (rest + b.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const m = /at (\d+\.\d+)$/.exec(l);
      if (m) into.push(now - Number(m[1]));
    }
  });
}

export async function benchLogs(opts: { quick?: boolean } = {}): Promise<LogsBench> {
  const runs = opts.quick ? 3 : 7;
  const dir = mkdtempSync(join(tmpdir(), 'ham-bench-logs-'));
  mkdirSync(join(dir, 'inbox'));
  mkdirSync(join(dir, 'logs'));
  try {
    // The data: lines of 100 bytes, as a chatty service writes them.
    const mb = opts.quick ? 16 : 64;
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
      entityToFile: [],
      catThroughKeeper: [],
      entityThroughKeeper: [],
      catKeeperCpu: [],
      entityKeeperCpu: [],
      followMs: [],
      tailMs: [],
    };
    const entity = ['perl', '-e', ENTITY, data];
    for (let i = 0; i < runs; i++) {
      out.catToFile.push(toFile(dir, ['cat', data]));
      out.entityToFile.push(toFile(dir, entity));
      const c = await throughKeeper(dir, `c${i}`, ['cat', data]);
      out.catThroughKeeper.push(c.s);
      out.catKeeperCpu.push(c.cpu);
      const e = await throughKeeper(dir, `e${i}`, entity);
      out.entityThroughKeeper.push(e.s);
      out.entityKeeperCpu.push(e.cpu);
    }
    // Latency: a line every 30 ms with its write time in it, printed by `ham logs -f` and `tail -f` at once.
    const tag = 'lat';
    const samples = opts.quick ? 30 : 100;
    const logDir = join(dir, 'logs', tag);
    const go = join(dir, 'go');
    const script = `use Time::HiRes; $| = 1; select(undef, undef, undef, 0.05) until -e $ARGV[0]; for (1..${samples}) { select(undef, undef, undef, 0.03); printf "at %.3f\\n", Time::HiRes::time() * 1000 } sleep 1000`;
    const k = keeperRun(dir, tag, ['perl', '-e', script, go, dir], logDir);
    await waitFor('its log file', () => readdirSync(logDir).includes('current'), 30_000);
    // The CLI reads the files itself: this folder is a home whose logs/ is ours (no daemon).
    const follow = spawn(process.execPath, [CLI_MAIN, '--home', dir, 'logs', tag, '-f', '-n', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const tail = spawn('tail', ['-F', '-n', '0', join(logDir, 'current')], { stdio: ['ignore', 'pipe', 'ignore'] });
    lateness(follow, out.followMs);
    lateness(tail, out.tailMs);
    // Both reading before the first line: an empty wait for the CLI's start-up, then the lines.
    await new Promise((r) => setTimeout(r, 1500));
    closeSync(openSync(go, 'w'));
    await waitFor('both printed every line', () => out.followMs.length >= samples && out.tailMs.length >= samples, 60_000);
    follow.kill('SIGKILL');
    tail.kill('SIGKILL');
    k.kill('SIGKILL');
    return out;
  } finally {
    killAll(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatLogsBench(b: LogsBench): string {
  const rate = (s: number[]): string => `${fmt(b.mbytes / median(s))} MiB/s, ${fmt(b.lines / median(s) / 1e6)} M lines/s`;
  const ratio = (s: number[], limit: number[]): string => `${(median(limit) / median(s)).toFixed(2)}×`;
  const cpu = (c: number[], s: number[]): string => `${fmt(median(c))} s (${fmt((100 * median(c)) / median(s))} % of the wall time)`;
  return [
    `${fmt(b.mbytes)} MiB of 100-byte lines (${fmt(b.lines / 1e6)} M lines) through the ${b.keeper} keeper, medians of ${b.catToFile.length} runs:`,
    '',
    '| measure | result | physical limit (same run) | ratio |',
    '|---|---|---|---|',
    `| \`cat\` as an entity, logged by its keeper | ${rate(b.catThroughKeeper)} | ${rate(b.catToFile)} (\`cat\` to a file) | ${ratio(b.catThroughKeeper, b.catToFile)} |`,
    `| an entity writing a line a write, logged by its keeper | ${rate(b.entityThroughKeeper)} | ${rate(b.entityToFile)} (the same entity straight to a file) | ${ratio(b.entityThroughKeeper, b.entityToFile)} |`,
    `| keeper CPU while logging the \`cat\` | ${cpu(b.catKeeperCpu, b.catThroughKeeper)} | - | - |`,
    `| keeper CPU while logging the entity | ${cpu(b.entityKeeperCpu, b.entityThroughKeeper)} | - | - |`,
    `| line written → printed by \`ham logs -f\` (median, p90) | ${fmt(median(b.followMs))} ms, ${fmt(quantile(b.followMs, 0.9))} ms | ${fmt(median(b.tailMs))} ms, ${fmt(quantile(b.tailMs, 0.9))} ms (\`tail -F\` on the same file) | ${(median(b.followMs) / median(b.tailMs)).toFixed(2)}× |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const b = await benchLogs({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${formatLogsBench(b)}\n`);
}
