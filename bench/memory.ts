// Where the pair's memory goes (issue 12: ≤ 40 MiB PSS for the two Node
// processes with 100 entities): each daemon's PSS by kind of mapping, next to
// a bare node process measured in the same run (the floor any Node daemon
// pays). The daemons' Node flags are DAEMON_NODE_FLAGS, their malloc settings DAEMON_MALLOC_ENV
// (src/paths.ts).
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { DAEMON_MALLOC_ENV, DAEMON_NODE_FLAGS, isDaemonArgv, WATCH_BINARY } from '../src/paths.js';
import { findProcesses } from '../src/proc/procfs.js';
import { sleep, startBenchPair } from './lib.js';
import { addParts, noParts, pssParts, settle, type PssParts } from './smaps.js';

export interface MemoryResult {
  entities: number;
  ham: PssParts;
  guardian: PssParts;
  /** The pair's two C watches (guardian/watch.c). */
  watches: PssParts;
  /** `node -e` kept alive, measured beside the pair. */
  bare: PssParts;
  /** How long the pair took to come to rest after the attaches (ms). */
  settledMs: number;
}

export async function benchMemory(entities: number): Promise<MemoryResult> {
  const pair = await startBenchPair();
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < entities; i++) await pair.request('attach', { name: `svc${i}`, argv: ['sleep', '1000000'], restart: true });
    while ((await pair.status()).entities.some((e) => e.state !== 'running')) await sleep(20);
    const role = (r: string): number[] => findProcesses((a) => isDaemonArgv(a, pair.home) && a[0]!.startsWith(r === 'ham' ? 'ham: HAM ' : 'ham: guardian '));
    const [ham] = role('ham');
    const [guardian] = role('guardian');
    if (ham === undefined || guardian === undefined) throw new Error(`memory bench: expected a HAM and a Guardian on ${pair.home}`);
    const watches = findProcesses((a) => a[0] === WATCH_BINARY && [ham, guardian].includes(Number(a[1])));
    // At rest (two quiet 10 s windows): V8 shrinks its heap in a few GCs, 8 s apart, after the attaches.
    const settledMs = await settle([ham, guardian], 10_000, 3_000_000, 90_000, 2);
    return {
      entities,
      ham: pssParts(ham),
      guardian: pssParts(guardian),
      watches: watches.map(pssParts).reduce(addParts, noParts()),
      bare: bare.pid === undefined ? noParts() : pssParts(bare.pid),
      settledMs,
    };
  } finally {
    bare.kill('SIGKILL');
    await pair.close();
  }
}

/** A markdown table of the result, in MiB. */
export function memoryTable(r: MemoryResult): string {
  const mib = (k: number): string => (k / 1024).toFixed(1);
  const pair = addParts(addParts(r.ham, r.guardian), r.watches);
  const malloc = Object.entries(DAEMON_MALLOC_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const rows: [string, PssParts][] = [
    ['HAM', r.ham],
    ['Guardian', r.guardian],
    ['watches (2)', r.watches],
    ['**pair**', pair],
    ['bare `node -e` (same run)', r.bare],
  ];
  return [
    `PSS with ${r.entities} entities, after the pair came to rest (${(r.settledMs / 1000).toFixed(0)} s); daemons run with \`${DAEMON_NODE_FLAGS.join(' ')}\` and \`${malloc}\`.`,
    '',
    '| process | total MiB | heap (anonymous) | code (mapped files) | LMDB map | other |',
    '|---|---|---|---|---|---|',
    ...rows.map(([n, p]) => `| ${n} | ${mib(p.total)} | ${mib(p.heap)} | ${mib(p.code)} | ${mib(p.lmdb)} | ${mib(p.other)} |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchMemory(Number(process.argv[2] ?? 100)).then(
    (r) => {
      process.stdout.write(`${memoryTable(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`memory bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
