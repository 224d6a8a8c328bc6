// Starting many from nothing, as the peers harness times it (issue 12, "starting many"): `ham start`
// on a fresh home, then `ham apply` of N services (the harness's svc.sh: `sh` appends a timestamp
// and its pid to start.log, then `exec sleep`), timed until every service's start.log has its line;
// next to the physical limit measured in the same run: one shell loop starting the same N scripts.
//   node dist/bench/start-apply.js [ROUNDS=5] [N=100]
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stopPair } from '../src/cli/daemon.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { fmt, killAll, median, nowMs, quantile, sleep } from './lib.js';

const HAM = join(PACKAGE_ROOT, 'bin', 'ham.js');
const SVC = '#!/bin/sh\necho "$(date +%s%N) $$" >> start.log\nexec sleep 100000\n';

export interface StartApplyResult {
  n: number;
  /** The shell loop: spawned → every start.log written (ms). */
  bare: number[];
  /** `ham start` spawned → it returned. */
  started: number[];
  /** → `ham apply` returned. */
  applied: number[];
  /** → every start.log written. */
  allRunning: number[];
}

/** N service folders with the script, under `root`. */
function services(root: string, n: number): { svc: string; dirs: string[] } {
  const svc = join(root, 'svc.sh');
  writeFileSync(svc, SVC);
  chmodSync(svc, 0o755);
  const dirs = Array.from({ length: n }, (_, i) => join(root, 'svc', `svc${String(i + 1).padStart(3, '0')}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  return { svc, dirs };
}

const written = (d: string): boolean => {
  try {
    return statSync(join(d, 'start.log')).size > 0;
  } catch {
    return false;
  }
};

async function allWritten(dirs: string[], deadlineMs: number): Promise<number> {
  const deadline = nowMs() + deadlineMs;
  let left = dirs;
  while ((left = left.filter((d) => !written(d))).length > 0) {
    if (nowMs() > deadline) throw new Error(`start-apply bench: ${left.length} of ${dirs.length} services never wrote their start.log`);
    await sleep(2);
  }
  return nowMs();
}

/** The services' sleeps (the pid each script wrote, which exec'd into sleep), killed. */
function killServices(dirs: string[]): void {
  for (const d of dirs) {
    try {
      for (const line of readFileSync(join(d, 'start.log'), 'utf8').trim().split('\n')) process.kill(Number(line.split(' ')[1]), 'SIGKILL');
    } catch {
      /* not started, or gone */
    }
  }
}

function run(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`start-apply bench: ${argv.slice(1).join(' ')} exited ${code}`))));
  });
}

async function bareRound(n: number): Promise<number> {
  const root = mkdtempSync(join(tmpdir(), 'ham-bench-bare-'));
  const { svc, dirs } = services(root, n);
  try {
    const t0 = nowMs();
    const loop = `for d in "$@"; do (cd "$d" && exec "${svc}") </dev/null >/dev/null 2>&1 & done`;
    await run(['sh', '-c', loop, 'sh', ...dirs]);
    return (await allWritten(dirs, 60_000)) - t0;
  } finally {
    killServices(dirs);
    rmSync(root, { recursive: true, force: true });
  }
}

async function hamRound(n: number): Promise<{ started: number; applied: number; allRunning: number }> {
  const root = mkdtempSync(join(tmpdir(), 'ham-bench-start-apply-'));
  const home = join(root, 'home');
  const { svc, dirs } = services(root, n);
  const file = join(root, 'ham.json');
  const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };
  const entities = Object.fromEntries(dirs.map((d) => [d.slice(d.lastIndexOf('/') + 1), { command: [svc], cwd: d, conditions: { died } }]));
  writeFileSync(file, JSON.stringify({ entities }));
  try {
    const t0 = nowMs();
    await run([process.execPath, HAM, '--home', home, 'start']);
    const started = nowMs() - t0;
    await run([process.execPath, HAM, '--home', home, 'apply', '-f', file]);
    const applied = nowMs() - t0;
    return { started, applied, allRunning: (await allWritten(dirs, 60_000)) - t0 };
  } finally {
    await stopPair(home, true).catch(() => undefined);
    killAll(home);
    killServices(dirs);
    rmSync(root, { recursive: true, force: true });
  }
}

export async function benchStartApply(rounds: number, n: number): Promise<StartApplyResult> {
  const r: StartApplyResult = { n, bare: [], started: [], applied: [], allRunning: [] };
  for (let i = 0; i < rounds; i++) {
    // Interleaved: a busy moment of the machine weighs on both alike.
    r.bare.push(await bareRound(n));
    const h = await hamRound(n);
    r.started.push(h.started);
    r.applied.push(h.applied);
    r.allRunning.push(h.allRunning);
  }
  return r;
}

export function startApplyTable(r: StartApplyResult): string {
  const bare = median(r.bare);
  const afterApply = r.allRunning.map((t, i) => t - r.started[i]!);
  const rows: [string, number[]][] = [
    [`a shell loop starting the ${r.n} scripts → all written (the limit)`, r.bare],
    ['`ham start` (fresh home) → returned', r.started],
    [`… → \`ham apply\` of ${r.n} returned`, r.applied],
    [`… → all ${r.n} running`, r.allRunning],
    [`\`ham apply\` spawned → all ${r.n} running`, afterApply],
  ];
  return [
    `${r.bare.length} rounds, ${r.n} services (the peers harness's svc.sh), ms from the first spawn.`,
    '',
    '| measure | median | p90 | × the shell loop |',
    '|---|---|---|---|',
    ...rows.map(([name, xs]) => `| ${name} | ${fmt(median(xs))} ms | ${fmt(quantile(xs, 0.9))} ms | ${(median(xs) / bare).toFixed(2)}× |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchStartApply(Number(process.argv[2] ?? 5), Number(process.argv[3] ?? 100)).then(
    (r) => {
      process.stdout.write(`${startApplyTable(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`start-apply bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
