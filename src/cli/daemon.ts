// Starting and stopping the pair from the CLI.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Connection } from '../client/connection.js';
import { HamError } from '../model/errors.js';
import { HTTP_TOKEN_ENV_VAR } from '../model/http.js';
import { BASE_ENV_VAR, type BaseEnvRequest } from '../model/environment.js';
import { homePaths } from '../model/home-paths.js';
import type { PairView } from '../protocol/views.js';
import { waitOfflineStop } from './offline-wait.js';
import { DAEMON_MAIN, DAEMON_MALLOC_ENV, DAEMON_NODE_FLAGS, daemonSpawn, ensureHome, isAlive, openLog, startTime } from './launch.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Who serves the home, by a ping (cheap, whatever the number of entities):
 * undefined only when nothing listens on the socket. Any other failure
 * (permission denied, timed out) is thrown: it is not "not running".
 */
export async function probe(home: string, timeoutMs = 3000): Promise<PairView | undefined> {
  let c: Connection | undefined;
  try {
    c = await connect({ home, timeoutMs: Math.min(timeoutMs, 1000) });
    const pong = (await c.request('ping', {}, timeoutMs)) as Partial<PairView>;
    if (isPair(pong)) return pong;
    // An older HAM answers a ping with { pid, epoch }: its status (every version has one) tells the pair.
    const s = (await c.request('status', {}, timeoutMs)) as Partial<PairView>;
    if (isPair(s)) return { ham: s.ham, guardian: s.guardian };
    throw new HamError({
      code: 'internal',
      message: `the HAM on ${home} answered ping and status without ham and guardian fields: got ${JSON.stringify(pong).slice(0, 200)}`,
    });
  } catch (e) {
    if (e instanceof HamError && e.code === 'not-running') return undefined;
    throw e;
  } finally {
    c?.close();
  }
}

function isPair(v: Partial<PairView> | null | undefined): v is PairView {
  return typeof v === 'object' && v !== null && typeof v.ham === 'object' && v.ham !== null && typeof v.guardian === 'object' && v.guardian !== null;
}

/** A probe that says undefined while the pair is coming up (nothing listens yet, or it is slow to answer). */
async function probeStarting(home: string): Promise<PairView | undefined> {
  try {
    return await probe(home);
  } catch (e) {
    if (e instanceof HamError && e.code === 'timeout') return undefined;
    throw e;
  }
}

async function waitUntil(home: string, ok: (s: PairView | undefined) => boolean, ms: number): Promise<PairView | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const s = await probeStarting(home);
    if (ok(s)) return s;
    await sleep(25);
  }
  return undefined;
}

function pairUp(s: PairView | undefined): s is PairView {
  return !!s && s.ham.pid !== null && s.guardian.pid !== null && startTime(s.guardian.pid) !== undefined;
}

export interface Started {
  already: boolean;
  status: PairView;
}

export async function startPair(
  home: string,
  opts: {
    hangMs?: number;
    timeoutMs?: number;
    detectors?: string;
    baseEnv?: BaseEnvRequest;
    storeMaxBytes?: number;
    savedMaxBytes?: number;
    allowUsers?: string[];
    /** `ADDR:PORT` (checked by the caller), '' to turn it off; `token` with it. */
    http?: string;
    token?: string;
  },
): Promise<Started> {
  // A home without a store has had no pair and no offline stop (both open the store first): no scan
  // of every process's command line for one (a first start's cost grows with the machine's processes).
  const fresh = !existsSync(join(homePaths(home).store, 'data.mdb'));
  const paths = ensureHome(home);
  let running = await probe(home);
  // None answers: an offline stop may hold the HAM role (a daemon started now would lose the claim).
  if (!running && !fresh && (await waitOfflineStop(home))) running = await probe(home);
  if (running && opts.baseEnv)
    throw new HamError({
      code: 'bad-request',
      message: `the pair is already running on ${home}: --env, --pass-env and --unset-env take effect at a start (ham stop first; entities keep running)`,
    });
  if (running) return { already: true, status: (await waitUntil(home, pairUp, 10_000)) ?? running };
  const log = openLog(paths.daemonLog);
  const args = [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--home', home, '--role', 'ham'];
  if (opts.hangMs !== undefined) args.push('--hang-ms', String(opts.hangMs));
  if (opts.detectors !== undefined) args.push('--detectors', opts.detectors);
  if (opts.storeMaxBytes !== undefined) args.push('--store-max-bytes', String(opts.storeMaxBytes));
  if (opts.savedMaxBytes !== undefined) args.push('--saved-max-bytes', String(opts.savedMaxBytes));
  if (opts.allowUsers !== undefined) args.push('--allow-user', opts.allowUsers.join(','));
  if (opts.http !== undefined) args.push('--http', opts.http);
  let exited: number | null = null;
  let told: Promise<PairView | boolean>;
  try {
    // The additions go in the daemon's environment, not its argv (anyone can read argv in /proc).
    const env: NodeJS.ProcessEnv = { ...DAEMON_MALLOC_ENV, ...process.env, ...(opts.baseEnv ? { [BASE_ENV_VAR]: JSON.stringify(opts.baseEnv) } : {}) };
    delete env[HTTP_TOKEN_ENV_VAR]; // only this start's --token, never one from the shell
    if (opts.token !== undefined) env[HTTP_TOKEN_ENV_VAR] = opts.token;
    const d = daemonSpawn(args); // through its nanny (guardian/nanny.c), which exits with the HAM's status
    const child = spawn(d.file, d.args, { detached: true, stdio: ['ignore', log, log, 'ipc'], env });
    // A HAM that exits with a code gave up; one killed by a signal after its claim has a Guardian to take over.
    child.on('exit', (code) => (exited = code));
    child.unref();
    told = toldUp(child, opts.timeoutMs ?? 15_000);
  } finally {
    closeSync(log);
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  // Told on the channel once the HAM answers and its Guardian is ready; probed as before when the
  // HAM says nothing (it lost the claim to a concurrent start, it died, an older daemon).
  const up = await told;
  if (up) {
    const s = up === true ? await probeStarting(home) : up;
    if (pairUp(s)) return { already: false, status: s };
  }
  while (Date.now() < deadline) {
    const s = await probeStarting(home);
    if (pairUp(s)) return { already: false, status: s };
    if (exited !== null && exited !== 0) break;
    await sleep(25);
  }
  const tail = readFileSync(paths.daemonLog, 'utf8').trim().split('\n').slice(-5).join('\n');
  throw new HamError({ code: 'timeout', message: `the HAM pair did not come up on ${home}; last log lines:\n${tail}` });
}

/**
 * Whether the HAM said `up` on its IPC channel (with the pair, as a ping shows it) before closing it
 * or `ms` passed; the channel is closed after.
 */
function toldUp(child: ChildProcess, ms: number): Promise<PairView | boolean> {
  return new Promise((resolve) => {
    const done = (up: PairView | boolean): void => {
      clearTimeout(timer);
      if (child.connected) child.disconnect(); // the CLI exits without waiting for the daemon
      resolve(up);
    };
    const timer = setTimeout(() => done(false), ms);
    child.once('message', (m: { t?: unknown; pair?: Partial<PairView> } | null) => {
      if (m?.t !== 'up') return done(false);
      done(isPair(m.pair) ? m.pair : true);
    });
    child.once('disconnect', () => done(false));
    child.once('error', () => done(false));
  });
}

export async function stopPair(home: string, all: boolean): Promise<PairView | undefined> {
  const before = await probe(home);
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
