// Starting and stopping the pair from the CLI.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, type Connection } from '../client/connection.js';
import { HamError } from '../errors.js';
import { ensureHome } from '../home.js';
import type { StatusView } from '../ham/status.js';
import { DAEMON_MAIN } from '../paths.js';
import { isAlive, startTime } from '../proc/procfs.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The status of a running pair, or undefined when nothing answers. */
export async function tryStatus(home: string): Promise<StatusView | undefined> {
  let c: Connection | undefined;
  try {
    c = await connect({ home, timeoutMs: 1000 });
    return (await c.request('status', {}, 3000)) as StatusView;
  } catch {
    return undefined;
  } finally {
    c?.close();
  }
}

async function waitUntil(home: string, ok: (s: StatusView | undefined) => boolean, ms: number): Promise<StatusView | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await tryStatus(home);
    if (ok(s)) return s;
    await sleep(25);
  }
  return undefined;
}

function pairUp(s: StatusView | undefined): s is StatusView {
  return !!s && s.ham.pid !== null && s.guardian.pid !== null && startTime(s.guardian.pid) !== undefined;
}

export interface Started {
  already: boolean;
  status: StatusView;
}

export async function startPair(home: string, opts: { hangMs?: number; timeoutMs?: number; detectors?: string; allowUsers?: string[] }): Promise<Started> {
  const paths = ensureHome(home);
  const running = await tryStatus(home);
  if (running) return { already: true, status: await waitUntil(home, pairUp, 10_000) ?? running };
  const log = openSync(paths.daemonLog, 'a', 0o600);
  const args = [DAEMON_MAIN, '--home', home, '--role', 'ham'];
  if (opts.hangMs !== undefined) args.push('--hang-ms', String(opts.hangMs));
  if (opts.detectors !== undefined) args.push('--detectors', opts.detectors);
  if (opts.allowUsers !== undefined) args.push('--allow-user', opts.allowUsers.join(','));
  let exited: number | null = null;
  try {
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
    child.on('exit', (code) => (exited = code ?? 1));
    child.unref();
  } finally {
    closeSync(log);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    const s = await tryStatus(home);
    if (pairUp(s)) return { already: false, status: s };
    if (exited !== null && exited !== 0) break;
    await sleep(25);
  }
  const tail = readFileSync(paths.daemonLog, 'utf8').trim().split('\n').slice(-5).join('\n');
  throw new HamError({ code: 'timeout', message: `the HAM pair did not come up on ${home}; last log lines:\n${tail}` });
}

export async function stopPair(home: string, all: boolean): Promise<StatusView | undefined> {
  const before = await tryStatus(home);
  if (!before) return undefined;
  const c = await connect({ home });
  try {
    await c.request('stop', { all }, 60_000);
  } finally {
    c.close();
  }
  const pids = [before.ham.pid, before.guardian.pid].filter((p): p is number => p !== null);
  const ids = pids.map((pid) => ({ pid, start: startTime(pid) ?? -1 }));
  const deadline = Date.now() + 15_000;
  while (ids.some(isAlive) && Date.now() < deadline) await sleep(20);
  return before;
}

