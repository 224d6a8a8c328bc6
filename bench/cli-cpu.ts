// What one `ham` command costs in CPU (issue 12: most of it is loading modules),
// next to `node -e 0` in the same run: `ham status` against a running pair with
// `entities` spawned sleeps, and `ham --help`. Measured as the children's CPU
// (utime + stime, reaped children, 10 ms ticks) over `runs` calls, so the tick
// is spread over the runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/paths.js';
import { startBenchPair } from './lib.js';

export interface CliCpuResult {
  runs: number;
  entities: number;
  /** ms of CPU per call */
  status: number;
  help: number;
  nodeStart: number;
}

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU (ms) of the children this process has reaped so far. */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) * TICK_MS; // cutime, cstime
}

function perCall(argv: string[], runs: number): number {
  const before = childrenCpuMs();
  for (let i = 0; i < runs; i++) spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  return (childrenCpuMs() - before) / runs;
}

export async function benchCliCpu(runs = 30, entities = 100): Promise<CliCpuResult> {
  const pair = await startBenchPair();
  const cli = join(PACKAGE_ROOT, 'bin', 'ham.js');
  try {
    for (let i = 0; i < entities; i++) await pair.request('attach', { name: `s${i}`, argv: ['sleep', '1000000'], restart: false });
    return {
      runs,
      entities,
      status: perCall([process.execPath, cli, '--home', pair.home, 'status'], runs),
      help: perCall([process.execPath, cli, '--help'], runs),
      nodeStart: perCall([process.execPath, '-e', '0'], runs),
    };
  } finally {
    await pair.close();
  }
}

if (process.argv[1]?.endsWith('cli-cpu.js')) {
  const r = await benchCliCpu(Number(process.argv[2] ?? 30));
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
