// `ham stop --all` when no HAM runs: the entities the store knows are stopped
// all the same (`main.js --role stop-all`, run by the CLI). It takes the HAM
// role for the stop (so a HAM or Guardian that runs is refused, and a `ham
// start` meanwhile waits), records each stop as a HAM's stop would (the entity
// `stopping`: its keeper's death record makes it `stopped`, and the next `ham
// start` starts it again, as after a HAM's `ham stop --all`), revokes its
// keeper's standing order first (no restart without a HAM), finds the process
// it runs now (stop-offline-current.ts: its keeper's newest record, else the
// store's), sends its stop signal to it and its group, and SIGKILLs them after
// its stop timeout, then kills what is left in its cgroup, if it has one.
import { HamError } from '../errors.js';
import type { HomePaths } from '../home.js';
import { orderKeeper } from '../keeper/link.js';
import { killCgroup } from '../ham/cgroups.js';
import { transition } from '../ham/lifecycle-table.js';
import { restartComing, viewState } from '../ham/lifecycle.js';
import type { EntityRecord, ProcId } from '../model/records.js';
import { holdClaimLock } from '../proc/fds.js';
import { isAlive, procId } from '../proc/procfs.js';
import { currentProcess, signalCurrent, type Current } from './stop-offline-current.js';
import { claimHam, markStopping, release } from '../store/roles.js';
import { Store } from '../store/store.js';

export interface OfflineStopped {
  name: string;
  pid: number;
  /** Ended by its stop signal, or SIGKILLed after its stop timeout; `alive`: still there after that. */
  how: 'signal' | 'killed' | 'alive';
}

export interface OfflineReport {
  epoch: number;
  stopped: OfflineStopped[];
}

/** After SIGKILL, how long to wait for the group's leader to be gone. */
const KILL_GRACE_MS = 2000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

/** Open the store and take the HAM role (refused while a pair runs), under the claim lock as a start's. */
function claimOffline(paths: HomePaths): { store: Store; epoch: number } {
  const unlock = holdClaimLock(paths.claimLock);
  try {
    const store = new Store(paths.store);
    const me = procId(process.pid)!;
    const roles = store.roles();
    if (roles.guardian && isAlive(roles.guardian))
      throw new HamError({
        code: 'already-running',
        message: `a Guardian (pid ${roles.guardian.pid}) runs on ${paths.root}: it serves the home (ham stop --all there), not stopped behind its back`,
      });
    return { store, epoch: claimHam(store, me, isAlive).epoch }; // refused (already-running) while a HAM runs
  } finally {
    unlock();
  }
}

export async function stopOffline(paths: HomePaths): Promise<OfflineReport> {
  const { store, epoch } = claimOffline(paths);
  try {
    markStopping(store, epoch, 'ham stop --all with no HAM running'); // no takeover of this role
    const running: { e: EntityRecord; c: Current }[] = [];
    for (const e of store.allEntities()) {
      if (e.kind !== 'spawned' && e.kind !== 'pid') continue;
      // A keeper's standing order would restart the command at its death: revoked first, as a HAM's stop does,
      // whatever the store says (the keeper may have restarted it by that order after the pair died).
      if (e.keeper && e.keeper.pid !== 0 && isAlive(e.keeper)) orderKeeper(paths, e.id, e.keeper.serial, { epoch, seq: e.keeper.lastSeq, n: 0, minRunMs: 0 });
      if (!(viewState(e.life) === 'running' || viewState(e.life) === 'starting' || restartComing(e.life))) continue;
      const c = await currentProcess(paths, e); // the keeper's newest P/S record, else the store's pid
      if (!c) continue;
      const out = transition(e.life, { tag: 'stop' }, { kind: e.kind, hasCommand: e.argv.length > 0 });
      if (!out || out.next === 'removed') continue;
      const next = out.next;
      const rec = store.fenced(epoch, () => {
        const cur = store.entity(e.name);
        if (!cur) return undefined;
        cur.life = next;
        store.putEntity(cur);
        return cur;
      });
      if (rec) running.push({ e: rec, c });
    }
    const stopped = await Promise.all(running.map(({ e, c }) => stopOne(e, c)));
    return { epoch, stopped };
  } finally {
    release(store, epoch);
    store.close();
  }
}

async function stopOne(e: EntityRecord, c: Current): Promise<OfflineStopped> {
  const out = await stopPolicy(e, c);
  if (e.cgroup) await killCgroup(e.cgroup); // what escaped its group, as a HAM's stop does (README "cgroups")
  return out;
}

async function stopPolicy(e: EntityRecord, c: Current): Promise<OfflineStopped> {
  const { id } = c;
  signalCurrent(c, e.stopPolicy.signal as NodeJS.Signals);
  if (await until(() => !isAlive(id), e.stopPolicy.timeoutMs)) return { name: e.name, pid: id.pid, how: 'signal' };
  signalCurrent(c, 'SIGKILL');
  return { name: e.name, pid: id.pid, how: (await until(() => !isAlive(id), KILL_GRACE_MS)) ? 'killed' : 'alive' };
}
