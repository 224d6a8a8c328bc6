// The HAM's side of a keeper: spawn it, tell it what to do, notice it dying.
// Nothing here polls: commands go down a FIFO, death comes up as EOF on the
// keeper's life FIFO, and records arrive in the inbox (see inbox.ts).
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { HamError } from '../errors.js';
import type { ExitStatus, LogPolicy } from '../model/records.js';
import { DEFAULT_LOG_POLICY } from '../model/defaults.js';
import { entityLogDir, KEEPERS_LOG } from '../model/log-names.js';
import type { HomePaths } from '../home.js';
import { openLog } from '../home-check.js';
import { keeperCommand } from '../paths.js';
import type { Launcher } from './launcher.js';
import { readyPath } from './ready-state.js';
import { keeperSide, type ReadinessSpec } from '../model/readiness.js';
import type { RunAs } from '../model/runas.js';
import { runAsKeeperEnv, runsAsOther } from './runas-env.js';
import { ensureOtherNotifyDir, otherNotifyPath } from './notify-dir.js';
import { signalName } from '../proc/names.js';
import { procId, signalProc, type ProcId } from '../proc/procfs.js';

export interface KeeperSpec {
  id: number;
  serial: number;
  name: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  /** Watch this orphan (whose keeper died) instead of starting the command. */
  adoptPid?: number;
  /** How its output is kept (keeper-log.c): defaults when absent. */
  logs?: LogPolicy | undefined;
  /** notify or fd: the keeper answers it (keeper-ready.c); other kinds are the HAM's. */
  readiness?: ReadinessSpec | null | undefined;
  /** Who the command runs as, with what limits (keeper-runas.c); `created`: the entity's createdAt. */
  runAs?: RunAs | null | undefined;
  /** The cgroup its child moves itself to before exec (keeper-runas.c), made by the HAM (cgroups.ts). */
  cgroup?: string | undefined;
  created?: number | undefined;
}

export function keeperTag(id: number, serial: number): string {
  return `${id}-${serial}`;
}

export function keeperDir(paths: HomePaths, id: number, serial: number): string {
  return join(paths.keepers, keeperTag(id, serial));
}

/**
 * Start a keeper, detached in its own session; it outlives this process.
 * `onExit` fires if it exits while this process is its parent (the life FIFO
 * only covers a keeper that got as far as opening it). With a `launcher` the
 * keeper is started by it (launcher.ts) and its pid is 0 until its K record.
 */
export function spawnKeeper(paths: HomePaths, spec: KeeperSpec, onExit: (why?: string) => void, launcher?: Launcher): ProcId {
  const dir = keeperDir(paths, spec.id, spec.serial);
  const mode = spec.adoptPid ? ['adopt', String(spec.adoptPid)] : ['start'];
  const [bin, ...pre] = keeperCommand().argv as [string, ...string[]];
  const args = [...pre, dir, paths.inbox, keeperTag(spec.id, spec.serial), ...mode, '--', ...spec.argv];
  if (launcher) {
    // Off this process: the keeper's K record brings its pid (0 until then, as after a takeover).
    const tag = keeperTag(spec.id, spec.serial);
    launcher.launch({ tag, dir, log: join(paths.logs, KEEPERS_LOG), cwd: spec.cwd, argv: [bin, ...args], env: keeperEnv(paths, spec) }, onExit);
    return { pid: 0, start: 0 };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = openLog(join(paths.logs, KEEPERS_LOG));
  try {
    const child = spawn(bin, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: keeperEnv(paths, spec),
      cwd: spec.cwd,
    });
    child.once('error', (err) => onExit(`the keeper (${bin}) could not be started: ${err.message}`));
    child.once('exit', () => onExit());
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new HamError({ code: 'spawn-failed', entity: spec.name, message: `the keeper (${bin}) could not be started` });
    return procId(pid) ?? { pid, start: 0 };
  } finally {
    closeSync(log);
  }
}

/**
 * The keeper's settings, in its environment (it takes them out before exec):
 * where and how to keep the command's output, and how long a keeper that
 * recorded a death waits with no HAM before it exits (its record stays in the
 * inbox; the daemon's own HAM_KEEPER_ALONE_MS, which tests shorten).
 */
function keeperEnv(paths: HomePaths, spec: KeeperSpec): Record<string, string> {
  const logs = spec.logs ?? DEFAULT_LOG_POLICY;
  const env = {
    ...spec.env,
    HAM_KEEPER_DIR: keeperDir(paths, spec.id, spec.serial), // found by it once its title hides its argv (keeper-title.c)
    HAM_LOG_DIR: entityLogDir(paths.logs, spec.name),
    HAM_LOG_MAX_BYTES: String(logs.maxBytes),
    HAM_LOG_KEEP: String(logs.keep),
    ...readyEnv(paths, spec),
    ...runAsKeeperEnv(spec.runAs),
    ...(spec.cgroup ? { HAM_RUN_CGROUP: spec.cgroup } : {}),
  };
  const alone = process.env.HAM_KEEPER_ALONE_MS;
  return alone !== undefined && /^\d+$/.test(alone) ? { ...env, HAM_KEEPER_ALONE_MS: alone } : env;
}

/** Readiness the keeper answers (notify, fd): what it listens on, and the watchdog period the entity gets. */
function readyEnv(paths: HomePaths, spec: KeeperSpec): Record<string, string> {
  const p = spec.readiness?.probe;
  if (!p || !keeperSide(p)) return {};
  const other = p.kind === 'notify' && runsAsOther(spec.runAs); // it cannot reach a socket in the 0700 home
  if (other) ensureOtherNotifyDir(paths.root, spec.name);
  const path = other ? otherNotifyPath(paths.root, spec.id) : readyPath(paths.root, spec.id, p);
  const env: Record<string, string> = { HAM_READY: p.kind, HAM_READY_PATH: path };
  if (p.kind === 'fd') env.HAM_READY_FD = String(p.fd);
  if (p.kind === 'notify' && p.watchdogMs) env.HAM_WATCHDOG_USEC = String(p.watchdogMs * 1000);
  return env;
}

/** Answer the keeper's death record `seq`; false if nobody reads ctl (the keeper is gone). */
export function commandKeeper(paths: HomePaths, id: number, serial: number, cmd: 'r' | 'x', seq: number): boolean {
  return writeCtl(paths, id, serial, `${cmd} ${seq}\n`);
}

/** A standing order (keeper.c): restart at once at the next `n` deaths after `minRunMs` up; n = 0 revokes. */
export interface KeeperOrder {
  epoch: number;
  /** The keeper's last record the HAM applied: a keeper that wrote more since ignores the order. */
  seq: number;
  n: number;
  minRunMs: number;
}

/** Give the keeper its standing order (or revoke it); false if nobody reads ctl. */
export function orderKeeper(paths: HomePaths, id: number, serial: number, o: KeeperOrder): boolean {
  return writeCtl(paths, id, serial, `o ${o.epoch} ${o.seq} ${o.n} ${o.minRunMs}\n`);
}

/** The fencing deadline order (keeper-fence.c): `d EPOCH MS SIGNAL TIMEOUT_MS`; false if nobody reads ctl. */
export function fenceKeeper(paths: HomePaths, id: number, serial: number, line: string): boolean {
  return writeCtl(paths, id, serial, line);
}

function writeCtl(paths: HomePaths, id: number, serial: number, line: string): boolean {
  let fd: number;
  try {
    fd = openSync(join(keeperDir(paths, id, serial), 'ctl'), fsc.O_WRONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    writeSync(fd, line);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** What the keeper said about its output at its start (keeper-log.c): null when it keeps it. */
export function keeperLogProblem(paths: HomePaths, id: number, serial: number): string | null {
  let fd: number | undefined;
  try {
    fd = openSync(join(keeperDir(paths, id, serial), 'log-problem'), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    const buf = Buffer.alloc(1024);
    return buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0)).trim() || null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Detach: the keeper exits and leaves its entity running. */
export function detachKeeper(keeper: ProcId): void {
  signalProc(keeper, 'SIGUSR1');
}

/** An entity removed: its notify socket and fd FIFO go too (a later entity with its id starts clean). */
export function removeReadyPaths(paths: HomePaths, id: number): void {
  for (const f of [join(paths.root, 'run', 'notify', String(id)), join(paths.root, 'run', 'notify', `${id}.fd`), otherNotifyPath(paths.root, id)])
    try {
      rmSync(f, { force: true });
    } catch {
      /* not ours to judge here: the next start's home check reports what is wrong */
    }
}

export function removeKeeperDir(paths: HomePaths, id: number, serial: number): void {
  // A keeper being let go may still write into it (ENOTEMPTY): retry, and never fail the
  // request that cleans up over it; a leftover folder of a gone keeper is harmless.
  try {
    rmSync(keeperDir(paths, id, serial), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  } catch {
    /* left for the next clean-up */
  }
}

/**
 * Call `onGone` once when the keeper dies: it holds the only write end of its
 * life FIFO, so its death is EOF here (epoll, no polling). Returns a disposer.
 */
export function watchLife(paths: HomePaths, id: number, serial: number, onGone: () => void): () => void {
  let fd: number;
  try {
    fd = openSync(join(keeperDir(paths, id, serial), 'life'), fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  } catch {
    queueMicrotask(onGone);
    return () => undefined;
  }
  const sock = new Socket({ fd, readable: true, writable: false });
  let done = false;
  const fire = (): void => {
    if (done) return;
    done = true;
    sock.destroy();
    onGone();
  };
  sock.on('data', () => undefined);
  sock.on('end', fire);
  sock.on('error', fire);
  sock.on('close', fire);
  return () => {
    done = true;
    sock.destroy();
  };
}

/** A raw wait status (-1 = unknown) as { code, signal, core }. */
export function decodeWaitStatus(status: number): ExitStatus & { core: boolean } {
  if (status < 0) return { code: null, signal: null, core: false };
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null, core: false };
  return { code: null, signal: signalName(sig), core: (status & 0x80) !== 0 };
}
