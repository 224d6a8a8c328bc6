// `ham stop --all` when no HAM runs: the entities the store knows are stopped
// all the same (`main.js --role stop-all`, run by the CLI). It takes the HAM
// role for the stop (so a HAM or Guardian that runs is refused, and a `ham
// start` meanwhile waits), records each stop as a HAM's stop would (the entity
// `stopping`: its keeper's death record makes it `stopped`, and the next `ham
// start` starts it again, as after a HAM's `ham stop --all`), revokes its
// keeper's standing order (no restart without a HAM), sends its stop signal to
// its process group, and SIGKILLs the group after its stop timeout.
import { HamError } from '../errors.js';
import type { HomePaths } from '../home.js';
import { orderKeeper } from '../keeper/link.js';
import { transition } from '../ham/lifecycle-table.js';
import { restartComing, viewState } from '../ham/lifecycle.js';
import type { EntityRecord } from '../model/records.js';
import { isAlive, procId } from '../proc/procfs.js';
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

/** The processes a stop signals: the group the entity leads (a spawned command), or the pid alone (adopted). */
function targets(e: EntityRecord): number[] {
  const group = e.kind === 'spawned' && e.mainGroup?.instance === e.instance ? e.mainGroup.pgid : null;
  if (group !== null && group !== e.pid) return [-group, e.pid!];
  return [e.kind === 'spawned' ? -e.pid! : e.pid!];
}

function signal(e: EntityRecord, sig: NodeJS.Signals): void {
  for (const t of targets(e))
    try {
      process.kill(t, sig);
    } catch {
      /* gone */
    }
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

export async function stopOffline(paths: HomePaths): Promise<OfflineReport> {
  const store = new Store(paths.store);
  const me = procId(process.pid)!;
  const roles = store.roles();
  if (roles.guardian && isAlive(roles.guardian))
    throw new HamError({
      code: 'already-running',
      message: `a Guardian (pid ${roles.guardian.pid}) runs on ${paths.root}: it serves the home (ham stop --all there), not stopped behind its back`,
    });
  const { epoch } = claimHam(store, me, isAlive); // refused (already-running) while a HAM runs
  try {
    markStopping(store, epoch, 'ham stop --all with no HAM running'); // no takeover of this role
    const running: EntityRecord[] = [];
    for (const e of store.allEntities()) {
      if (e.kind !== 'spawned' && e.kind !== 'pid') continue;
      if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) continue;
      if (!(viewState(e.life) === 'running' || viewState(e.life) === 'starting' || restartComing(e.life))) continue;
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
      if (!rec) continue;
      // A keeper's standing order would restart the command at its death: revoked first, as a HAM's stop does.
      if (rec.keeper && rec.keeper.pid !== 0) orderKeeper(paths, rec.id, rec.keeper.serial, { epoch, seq: rec.keeper.lastSeq, n: 0, minRunMs: 0 });
      running.push(rec);
    }
    const stopped = await Promise.all(running.map((e) => stopOne(e)));
    return { epoch, stopped };
  } finally {
    release(store, epoch);
    store.close();
  }
}

async function stopOne(e: EntityRecord): Promise<OfflineStopped> {
  const id = { pid: e.pid!, start: e.pidStart! };
  signal(e, e.stopPolicy.signal as NodeJS.Signals);
  if (await until(() => !isAlive(id), e.stopPolicy.timeoutMs)) return { name: e.name, pid: id.pid, how: 'signal' };
  signal(e, 'SIGKILL');
  return { name: e.name, pid: id.pid, how: (await until(() => !isAlive(id), KILL_GRACE_MS)) ? 'killed' : 'alive' };
}
