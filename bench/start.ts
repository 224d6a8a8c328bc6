// How fast the pair starts and the CLI answers (issue 12, "starting many"): `ham start` from the
// CLI's spawn to the HAM answering a ping and to the CLI's return (both daemons up, DESIGN.md's
// contract), and the CLI's own start (`ham --help`; `ham status --json` with a pair up), each
// next to `node -e 0` measured in the same run: the floor any Node program pays.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '../src/client/connection.js';
import { stopPair } from '../src/cli/daemon.js';
import { homePaths } from '../src/home.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { fmt, killAll, median, nowMs, quantile, sleep, timeSpawnToExit } from './lib.js';

const HAM = join(PACKAGE_ROOT, 'bin', 'ham.js');

export interface StartResult {
  /** `node -e 0`, spawn to exit (ms). */
  nodeStart: number[];
  /** `ham --help`, spawn to exit. */
  cliHelp: number[];
  /** `ham status --json` against a running pair, spawn to exit. */
  cliStatus: number[];
  /** `ham start` spawned → the new HAM answers a ping. */
  answering: number[];
  /** `ham start` spawned → it returned (the HAM and its Guardian both up). */
  returned: number[];
}

async function pingOnce(socket: string): Promise<boolean> {
  try {
    const c = await Connection.open(socket, 200);
    try {
      await c.request('ping', {}, 500);
      return true;
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

/** One `ham start` on a fresh home: when the socket first answered, when the CLI returned. */
async function timeStart(home: string): Promise<{ answering: number; returned: number }> {
  const socket = homePaths(home).socket;
  const t0 = nowMs();
  const cli = spawn(process.execPath, [HAM, '--home', home, 'start'], { stdio: 'ignore' });
  const exited = new Promise<number>((resolve, reject) => {
    cli.on('error', reject);
    cli.on('exit', (code) => (code === 0 ? resolve(nowMs()) : reject(new Error(`start bench: ham start exited ${code}`))));
  });
  let answering: number | undefined;
  let returned: number | undefined;
  void exited.then((t) => (returned = t));
  // Poll (1 ms apart) from beside the CLI: its own wait is what is measured, not this one.
  while (answering === undefined && nowMs() - t0 < 30_000) {
    if (await pingOnce(socket)) answering = nowMs();
    else await sleep(1);
  }
  const done = await exited;
  if (answering === undefined) throw new Error(`start bench: the HAM on ${home} never answered`);
  return { answering: answering - t0, returned: (returned ?? done) - t0 };
}

export async function benchStart(rounds: number): Promise<StartResult> {
  const r: StartResult = { nodeStart: [], cliHelp: [], cliStatus: [], answering: [], returned: [] };
  for (let i = 0; i < rounds; i++) {
    // Interleaved, so that a busy moment of the machine weighs on every row alike.
    r.nodeStart.push(await timeSpawnToExit([process.execPath, '-e', '0']));
    r.cliHelp.push(await timeSpawnToExit([process.execPath, HAM, '--help']));
    const home = mkdtempSync(join(tmpdir(), 'ham-bench-start-'));
    try {
      const s = await timeStart(home);
      r.answering.push(s.answering);
      r.returned.push(s.returned);
      r.cliStatus.push(await timeSpawnToExit([process.execPath, HAM, '--home', home, 'status', '--json']));
    } finally {
      await stopPair(home, true).catch(() => undefined);
      killAll(home);
      rmSync(home, { recursive: true, force: true });
    }
  }
  return r;
}

/** A markdown table of the result (medians, p90, and each next to `node -e 0`). */
export function startTable(r: StartResult): string {
  const node = median(r.nodeStart);
  const rows: [string, number[]][] = [
    ['`node -e 0` (same run)', r.nodeStart],
    ['`ham --help`', r.cliHelp],
    ['`ham status --json` (pair up, no entities)', r.cliStatus],
    ['`ham start` → the HAM answers a ping', r.answering],
    ['`ham start` → returned (HAM and Guardian up)', r.returned],
  ];
  return [
    `${r.nodeStart.length} rounds, spawn to exit unless said.`,
    '',
    '| measure | median | p90 | × `node -e 0` |',
    '|---|---|---|---|',
    ...rows.map(([n, xs]) => `| ${n} | ${fmt(median(xs))} ms | ${fmt(quantile(xs, 0.9))} ms | ${(median(xs) / node).toFixed(2)}× |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchStart(Number(process.argv[2] ?? 10)).then(
    (r) => {
      process.stdout.write(`${startTable(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`start bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
