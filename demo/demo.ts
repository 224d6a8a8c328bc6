// `npm start`: the HAM pair on ./.ham-demo with three entities, one of which
// crashes now and then, an HTTP check detector on the web entity, a chaos
// monkey that kills the HAM every 15 s, and a live view. Ctrl-C stops everything (`ham stop --all`).
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { formatDetectors } from '../src/cli/detectors.js';
import type { DetectorView } from '../src/protocol/views.js';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import { startPair, stopPair } from '../src/cli/daemon.js';
import { formatStatus } from '../src/cli/format.js';
import type { StatusView } from '../src/protocol/views.js';
import { homePaths } from '../src/home.js';
import { PACKAGE_ROOT } from '../src/paths.js';

const home = process.env.HAM_HOME ?? join(PACKAGE_ROOT, '.ham-demo');
const chaos = process.env.DEMO_CHAOS !== '0';
const paths = homePaths(home);

const ENTITIES: { name: string; argv: string[] }[] = [
  {
    name: 'web',
    argv: [process.execPath, '-e', "require('http').createServer((q, s) => s.end('hello from ' + process.pid + '\\n')).listen(+process.env.PORT || 8765)"],
  },
  // Dies after 3–10 s: exit code 1 or 2, or SIGSEGV.
  { name: 'flaky', argv: ['perl', '-e', 'srand; sleep 3 + rand 7; my $r = int rand 3; kill "SEGV", $$ unless $r; exit $r'] },
  { name: 'steady', argv: ['sleep', '1000000'] },
];

/** A shipped detector wired to `web` with a header: HTTP GET every 2 s. */
function plugDetector(): void {
  const dir = join(home, 'detectors');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const script = `#!/bin/sh\n# ham: kind=check entity=web interval=2s timeout=1s tries=2\nexec ${join(PACKAGE_ROOT, 'detectors', 'http-check')} http://127.0.0.1:8765/ --match hello --max-ms 500\n`;
  writeFileSync(join(dir, 'web-http'), script, { mode: 0o700 });
}

async function request(op: 'status' | 'attach' | 'detectors', args: object): Promise<unknown> {
  const c = await Connection.open(paths.socket, 1000);
  try {
    return await c.request(op, args as never);
  } finally {
    c.close();
  }
}

const recent: string[] = [];
let logOffset = 0;

/** Turn new daemon log lines into a few human sentences. */
function readEvents(): void {
  if (!existsSync(paths.daemonLog)) return;
  const size = statSync(paths.daemonLog).size;
  if (size <= logOffset) return;
  const fd = openSync(paths.daemonLog, 'r');
  const buf = Buffer.alloc(size - logOffset);
  readSync(fd, buf, 0, buf.length, logOffset);
  closeSync(fd);
  logOffset = size;
  for (const line of buf.toString('utf8').split('\n')) {
    let l: Record<string, any>;
    try {
      l = JSON.parse(line);
    } catch {
      continue;
    }
    const t = String(l.time).slice(11, 19);
    const say = (s: string): void => void recent.push(`${t}  ${s}`);
    if (l.msg === 'keeper record X') say(`${l.entity} died (${l.lastExit?.signal ?? `exit code ${l.lastExit?.code}`})`);
    else if (l.msg === 'keeper record S') say(`${l.entity} running as pid ${l.record.pid}`);
    else if (l.msg === 'took over the HAM role') say(`Guardian ${l.pid} took over as HAM (epoch ${l.epoch}): ${l.reason}`);
    else if (l.msg === 'guardian ready') say(`new Guardian ${l.guardian} ready`);
    else if (l.msg === 'guardian died: spawning a new one') say(`Guardian ${l.guardian} died`);
    else if (typeof l.msg === 'string' && l.msg.startsWith('detector failed')) say(`detector ${l.detector} raised on ${l.entity}: ${l.result}`);
    else if (l.msg === 'detector healthy again') say(`detector ${l.detector}: ${l.entity} healthy again`);
  }
  recent.splice(0, Math.max(0, recent.length - 12));
}

let lastStatus: StatusView | undefined;
let lastDetectors: { dir: string; refused: string | null; detectors: DetectorView[] } | undefined;
async function draw(note: string): Promise<void> {
  try {
    lastStatus = (await request('status', {})) as StatusView;
    lastDetectors = (await request('detectors', {})) as typeof lastDetectors;
  } catch {
    /* mid-takeover: show the last one */
  }
  readEvents();
  const out = [
    `ham demo on ${home}   (Ctrl-C stops everything)   ${note}`,
    '',
    lastStatus ? formatStatus(lastStatus) : 'waiting for the HAM...',
    '',
    lastDetectors ? formatDetectors(lastDetectors) : '',
    '',
    'what happened:',
    ...recent.map((r) => `  ${r}`),
  ].join('\n');
  process.stdout.write(process.stdout.isTTY ? `\x1b[2J\x1b[H${out}\n` : `${out}\n\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`starting the HAM pair on ${home}...\n`);
  await startPair(home, {});
  const status = (await request('status', {})) as StatusView;
  for (const e of ENTITIES) {
    if (status.entities.some((x) => x.name === e.name)) continue;
    await request('attach', { name: e.name, argv: e.argv, restart: true, cwd: home });
  }
  plugDetector();
  let note = chaos ? 'chaos monkey: kills the HAM every 15 s' : '';
  let tick = 0;
  const timer = setInterval(() => {
    tick += 1;
    if (chaos && tick % 30 === 0 && lastStatus?.ham.pid) {
      note = `chaos monkey: SIGKILL to the HAM (pid ${lastStatus.ham.pid})`;
      process.kill(lastStatus.ham.pid, 'SIGKILL');
    }
    void draw(note);
  }, 500);
  process.on('SIGINT', () => {
    clearInterval(timer);
    process.stdout.write('\nstopping the pair and its entities...\n');
    stopPair(home, true).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((e: Error) => {
  process.stderr.write(`demo failed: ${e.message}\n`);
  process.exit(1);
});
