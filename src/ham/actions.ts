// What each action kind does. Every one resolves to ok or a failure with a
// reason; none throws. `restart` is the supervisor's (it owns the keepers).
import { existsSync, watch } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { HomePaths } from '../home.js';
import { HamError } from '../errors.js';
import type { Logger } from '../log.js';
import { isAlive, procId, signalProc, type ProcId } from '../proc/procfs.js';
import type { ActionSpec, RunRecord } from '../model/conditions.js';
import type { Store } from '../store/store.js';
import type { EntityRecord } from '../model/records.js';
import { execute, EXECUTE_GRACE_MS } from './execute.js';
import { LogWriter } from '../logs/writer.js';
import { entityLogDir } from '../model/log-names.js';
import { DEFAULT_LOG_POLICY } from '../model/defaults.js';
import type { ActionResult } from './executor.js';
import { findUser } from './accounts.js';

export interface ActionDeps {
  store: Store;
  paths: HomePaths;
  log: Logger;
  baseEnv: Record<string, string>;
  write: <T>(fn: () => T) => T;
  restart: (run: RunRecord) => Promise<ActionResult>;
  notify: (run: RunRecord, message?: string) => void;
  heartbeatHealthy: (entity: string) => void;
}

const ok: ActionResult = { ok: true };
const fail = (error: string): ActionResult => ({ ok: false, error });

export function makeRunAction(d: ActionDeps) {
  return async (run: RunRecord, a: ActionSpec, resumed: boolean): Promise<ActionResult> => {
    const target = d.store.entity(run.target);
    switch (a.kind) {
      case 'log':
        d.log(a.level ?? 'info', a.message || `${run.occurrence.type} on ${run.target}`, {
          entity: run.target,
          condition: run.condition,
          seq: run.seq,
          action: a.name,
        });
        return ok;
      case 'notify':
        d.notify(run, a.message);
        return ok;
      case 'heartbeat-healthy':
        d.heartbeatHealthy(run.target);
        return ok;
      case 'restart':
        return d.restart(run);
      case 'signal':
        return signal(a, target);
      case 'waitfor':
        return waitfor(a, target, d.paths);
      case 'execute':
        if (resumed) killLeftover(d.store.run(run.id)?.child ?? null);
        return runExecute(a, run, target, d);
    }
  };
}

function signal(a: ActionSpec, target: EntityRecord | undefined): ActionResult {
  const sig = a.signal ?? 'SIGTERM';
  if (a.pid !== undefined) {
    try {
      process.kill(a.pid, sig as NodeJS.Signals);
      return ok;
    } catch (e) {
      return fail(`cannot send ${sig} to pid ${a.pid}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  if (!target || target.pid === null || target.pidStart === null) return fail(`entity ${target?.name ?? '?'} has no running process to send ${sig} to`);
  return signalProc({ pid: target.pid, start: target.pidStart }, sig as NodeJS.Signals)
    ? ok
    : fail(`entity ${target.name} (pid ${target.pid}) is gone; ${sig} not sent`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolve when something changes in `dir` or after `ms`, whichever is first. */
function changeIn(dir: string, ms: number): Promise<void> {
  return new Promise((resolveWait) => {
    let w: ReturnType<typeof watch> | undefined;
    const done = (): void => {
      clearTimeout(t);
      w?.close();
      resolveWait();
    };
    const t = setTimeout(done, ms);
    try {
      w = watch(dir, done);
      w.on('error', done);
    } catch {
      /* the folder does not exist yet: the timer polls */
    }
  });
}

async function waitfor(a: ActionSpec, target: EntityRecord | undefined, paths: HomePaths): Promise<ActionResult> {
  const started = Date.now();
  if (a.delayMs) await sleep(a.delayMs);
  if (a.path === undefined) return ok;
  const path = resolve(target?.cwd || paths.root, a.path);
  const timeout = a.timeoutMs ?? 10_000;
  for (;;) {
    if (existsSync(path)) return ok;
    const left = started + timeout - Date.now();
    if (left <= 0) return fail(`${path} did not appear within ${timeout} ms`);
    await changeIn(dirname(path), Math.min(left, 100));
  }
}

function killLeftover(child: ProcId | null): void {
  if (!child || !isAlive(child)) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    signalProc(child, 'SIGKILL');
  }
}

/** A cluster event's execute sees which event, and the placed entity, node and fencing token it concerns. */
function clusterEnv(c: RunRecord['occurrence']['cluster']): Record<string, string> {
  if (!c) return {};
  return { HAM_CLUSTER_EVENT: c.event, HAM_CLUSTER_ENTITY: c.entity ?? '', HAM_CLUSTER_NODE: c.node ?? '', HAM_CLUSTER_TOKEN: c.token ?? '' };
}

async function runExecute(a: ActionSpec, run: RunRecord, target: EntityRecord | undefined, d: ActionDeps): Promise<ActionResult> {
  const exit = run.occurrence.exit;
  const env: Record<string, string> = {
    ...d.baseEnv,
    ...(target?.env ?? {}),
    ...(a.env ?? {}),
    HAM_ENTITY: run.target,
    HAM_CONDITION: run.condition,
    HAM_EVENT_SEQ: String(run.seq),
    HAM_PID: String(run.occurrence.pid ?? target?.pid ?? ''),
    HAM_EXIT_CODE: exit?.code === null || exit?.code === undefined ? '' : String(exit.code),
    HAM_SIGNAL: exit?.signal ?? '',
    ...clusterEnv(run.occurrence.cluster),
  };
  const onSpawn = (pid: number): void => {
    const id = procId(pid);
    if (!id) return;
    d.write(() => {
      const r = d.store.run(run.id);
      if (r) d.store.putRun({ ...r, child: id });
    });
  };
  const argv = a.argv ?? [];
  const as = a.user === undefined ? undefined : findUser(a.user);
  if (a.user !== undefined && !as)
    return {
      ok: false,
      error: `cannot execute ${JSON.stringify(argv[0])}: no user ${JSON.stringify(a.user)}`,
      failure: { argv, exitCode: null, signal: null, startError: 'no such user' },
    };
  try {
    return await execute({
      argv,
      cwd: resolve(target?.cwd || d.paths.root, a.cwd ?? '.'),
      env: as ? { ...env, HOME: as.home ?? '/', USER: as.name, LOGNAME: as.name, ...(a.env ?? {}) } : env,
      ids: as ? { uid: as.id, gid: as.gid ?? as.id } : undefined,
      timeoutMs: a.timeoutMs ?? 10_000,
      graceMs: a.graceMs ?? EXECUTE_GRACE_MS,
      // Under its own name: ENTITY/CONDITION (no entity's name has a '/'), with the entity's log policy.
      output: new LogWriter(entityLogDir(d.paths.logs, `${run.target}/${run.condition}`), target?.logs ?? DEFAULT_LOG_POLICY, target?.instance ?? 0),
      onSpawn,
    });
  } catch (e) {
    // It could not be spawned at all: the action fails with the reason, the HAM goes on.
    const why = HamError.from(e).message;
    return { ok: false, error: `cannot execute ${JSON.stringify(argv[0])}: ${why}`, failure: { argv, exitCode: null, signal: null, startError: why } };
  }
}
