// What keepers report: inbox records (K P S F X, see keeper.pl) and the EOF
// of their life FIFO. Each report is applied to the store in one fenced
// transaction, with the event it fires and the runs it starts, and only then
// acted on (the keeper answered, a restart scheduled, the coordinator told).
import { Inbox, type InboxItem, type KeeperRecord, type Verdict } from '../keeper/inbox.js';
import { commandKeeper, decodeWaitStatus, keeperLogProblem, keeperTag, orderKeeper, removeKeeperDir, watchLife } from '../keeper/link.js';
import { judge } from '../keeper/records.js';
import { errnoName } from '../proc/names.js';
import { isAlive, procId } from '../proc/procfs.js';
import type { EntityRecord } from '../model/records.js';
import type { LifeEvent } from './lifecycle-events.js';
import { takeOrderedRestart } from './standing-orders.js';
import type { SupervisorCore } from './supervisor-core.js';
import { hasProcess, parkedOf, restartComing, viewState } from './lifecycle.js';
import { prepareCgroup } from './cgroups.js';

/** keeper-runas.h KRUNAS_CGROUP_BASE. */
const CGROUP_FAILURE = 2048;

/** Where no process of the entity may run: a fork reported there is a stray. */
const DOWN = new Set(['dead', 'stopped', 'held', 'failed']);

export class KeeperRecords {
  private readonly inbox: Inbox;
  /** One life watch per entity, for the keeper serial it watches. */
  private readonly lifeWatches = new Map<string, { serial: number; dispose: () => void }>();
  /**
   * Keepers lost in a row before their command was exec'd, per entity: the first loss is
   * retried at once, a second one ends the restart (a keeper that cannot even record, on a
   * full disk say, would otherwise be respawned for ever). In memory: a takeover gives one
   * more try, no more.
   */
  private readonly lostBeforeExec = new Map<string, number>();
  /** Restarts a keeper's order carried out where none was due (an order that outlived a change): stopped at their P. */
  private readonly strays = new Set<string>();

  constructor(private readonly core: SupervisorCore) {
    this.inbox = new Inbox(
      core.paths.inbox,
      (item) => this.onItem(item),
      (file, why, level) => core.log(level, level === 'warn' ? "bad file in the keepers' inbox: removed" : 'stale keeper record removed', { file, why }),
      (id, serial) => this.poked(id, serial),
    );
  }

  start(): void {
    this.inbox.start();
  }

  /** The inbox's sweeps, for `stats`. */
  inboxFigures(): { sweeps: number; sweepPending: boolean } {
    return { sweeps: this.inbox.sweeps, sweepPending: this.inbox.sweepPending };
  }

  /** Apply whatever keepers wrote so far (before judging a keeper that died). */
  drain(): void {
    this.inbox.drain();
  }

  close(): void {
    this.inbox.close();
    for (const w of this.lifeWatches.values()) w.dispose();
    this.lifeWatches.clear();
  }

  private onItem(item: InboxItem): Verdict {
    const name = this.core.names.get(item.id);
    const e = name === undefined ? undefined : this.core.store.entity(name);
    const j = judge(item, e?.keeper, e !== undefined);
    if (j !== 'apply') return j;
    this.applyKeeperRecord(e!.name, item.seq, item.record);
    return 'done';
  }

  /** Its cgroup was gone (removed behind its back: a unit's stop trims empty cgroups): made again for the next start, which its keeper makes. */
  private remakeCgroup(e: EntityRecord): void {
    try {
      prepareCgroup(this.core.paths.root, e.id, e.runAs!.cgroup!, e.name);
    } catch (err) {
      this.core.log('warn', 'its cgroup could not be made again', { entity: e.name, error: (err as Error).message });
    }
  }

  /** Keeper `serial` of entity `id` has news of its readiness (notify, fd): read it if that is its keeper now. */
  private poked(id: number, serial: number): void {
    const name = this.core.names.get(id);
    const e = name === undefined ? undefined : this.core.store.entity(name);
    if (e?.keeper?.serial === serial) this.core.parts.readiness.keeper.read(e);
  }

  /** One record: its data and its lifecycle event, in one transaction (lifecycle-table.ts). */
  private applyKeeperRecord(name: string, seq: number, r: KeeperRecord): void {
    const { transitions } = this.core.parts;
    if (r.kind === 'S') this.lostBeforeExec.delete(name);
    const rec0 = this.core.store.entity(name);
    const argv = rec0?.argv ?? [];
    // 2048 + errno: its child could not join its cgroup (keeper-runas.c), else exec's errno.
    const cg = r.kind === 'F' && r.errno >= CGROUP_FAILURE ? errnoName(r.errno - CGROUP_FAILURE) : undefined;
    const failure = r.kind !== 'F' ? undefined : cg ? `cannot join its cgroup ${rec0?.cgroup ?? '?'}: ${cg}` : errnoName(r.errno);
    const ordered = r.kind === 'X' && r.ordered === true;
    let taken = { taken: false, over: false };
    const ev: LifeEvent = r.kind === 'F' ? { tag: 'F', seq } : r.kind === 'X' ? { tag: 'X', seq, exit: decodeWaitStatus(r.status) } : { tag: r.kind };
    const applied = transitions.apply(name, ev, {
      data: (rec) => {
        const k = rec.keeper!;
        k.lastSeq = seq;
        if (r.kind === 'K' && k.pid === 0) Object.assign(k, procId(r.pid) ?? { pid: r.pid, start: 0 });
        if (r.kind === 'P') {
          // Forked, not yet exec'd; exec keeps the pid and start time, so this identifies it.
          rec.pid = r.pid;
          rec.pidStart = procId(r.pid)?.start ?? null;
        }
      },
      pid: r.kind === 'S' || r.kind === 'X' ? r.pid : undefined,
      exit: ev.tag === 'X' ? ev.exit : undefined,
      startError: failure === undefined ? undefined : cg ? failure : `cannot execute ${JSON.stringify(argv[0])}: ${failure}`,
      startFailure: failure === undefined ? undefined : { argv, exitCode: null, signal: null, startError: failure },
      point: `apply-${r.kind}:${name}`,
      // Restarted by its standing order: the restart its death fired is taken as carried out, in this transaction.
      after: ordered ? (rec) => void (taken = takeOrderedRestart(rec, Date.now())) : undefined,
    });
    if (!applied) return;
    const e = applied.entity;
    if (cg && e.runAs?.cgroup) this.remakeCgroup(e);
    // Its first record: nothing need watch it by pid (a launcher's death, or a reconcile, watches only keepers not yet heard of).
    if (r.kind === 'K' && e.keeper) this.core.parts.spawner.settled(keeperTag(e.id, e.keeper.serial));
    if (r.kind === 'K' && e.keeper) this.outputProblem(e, keeperLogProblem(this.core.paths, e.id, e.keeper.serial));
    if (ordered) this.orderedApplied(e, taken);
    const now = viewState(e.life);
    // A stray: forked by an order where no restart was due. Known here if this HAM applied that death; after a
    // takeover between the death and the fork, told by the state (nothing may run there: the table ignores P).
    const stray = r.kind === 'P' && (this.strays.delete(name) ? now !== 'starting' && now !== 'running' : DOWN.has(e.life.tag));
    if (stray) this.core.signalGroup(e, 'SIGKILL');
    this.core.log('info', `keeper record ${r.kind}`, { entity: name, seq, record: r, state: now, lastExit: e.lastExit });
    if (applied.outcome) transitions.perform(e, applied.outcome.effects);
  }

  /** Whether its new keeper keeps its output (written only when that changes). */
  private outputProblem(e: EntityRecord, problem: string | null): void {
    if ((e.outputProblem ?? null) === problem) return;
    if (problem) this.core.log('warn', 'entity output not kept', { entity: e.name, problem });
    this.core.updateIfPresent(e.name, (rec) => void (rec.outputProblem = problem));
  }

  /** An ordered death applied: its restart counted, or (no restart was due) the order revoked and the new process stopped. */
  private orderedApplied(e: EntityRecord, t: { taken: boolean; over: boolean }): void {
    if (t.over) this.core.log('warn', 'a standing order restarted it beyond its intensity (the order outlived a change)', { entity: e.name });
    if (t.taken || !e.keeper) return;
    this.core.log('warn', 'its keeper restarted it by a standing order where no restart was due: stopping that process', {
      entity: e.name,
      state: viewState(e.life),
    });
    orderKeeper(this.core.paths, e.id, e.keeper.serial, { epoch: this.core.epoch, seq: 0, n: 0, minRunMs: 0 });
    this.strays.add(e.name);
  }

  /** A self-attached client hung up while its process lives: its death (its keeper reports the exit later). */
  connectionDeath(name: string): void {
    const applied = this.core.parts.transitions.apply(name, { tag: 'conn-closed', alive: true });
    if (applied?.outcome) this.core.parts.transitions.perform(applied.entity, applied.outcome.effects);
  }

  /** After a death or a stop: tell the keeper waiting on its death record to exit, unless a restart is coming. */
  releaseIfDone(e: EntityRecord): void {
    const seq = parkedOf(e.life);
    if (seq === null || !e.keeper || restartComing(e.life)) return;
    if (!commandKeeper(this.core.paths, e.id, e.keeper.serial, 'x', seq)) this.keeperGone(e.name, e.keeper.serial);
  }

  /** The keeper's life FIFO hit EOF: it exited or was killed. */
  keeperGone(name: string, serial: number, why?: string): void {
    const { store, paths, parts } = this.core;
    this.unwatchSerial(name, serial);
    this.inbox.drain(); // whatever it wrote before dying comes first
    const e = store.entity(name);
    if (e) removeKeeperDir(paths, e.id, serial);
    if (!e || !e.keeper || e.keeper.serial !== serial) return;
    const dismissed = parkedOf(e.life) !== null && !restartComing(e.life);
    if (dismissed) return this.goneEvent(name, false, true, false);
    this.core.log('warn', 'keeper died', { entity: name, keeper: e.keeper.pid, state: viewState(e.life) });
    const orphan = e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart });
    // A process that outlived its keeper keeps the keeper reference until a new keeper adopts it.
    const adopting = orphan && hasProcess(e.life);
    this.goneEvent(name, orphan, false, adopting, why);
  }

  /** `why`: the keeper could not be started at all (the launcher's or spawn's error), else it died before its command. */
  private goneEvent(name: string, orphan: boolean, dismissed: boolean, adopting: boolean, why?: string): void {
    const { transitions } = this.core.parts;
    const lost = orphan || dismissed ? 0 : (this.lostBeforeExec.get(name) ?? 0) + 1;
    if (lost) this.lostBeforeExec.set(name, lost);
    const applied = transitions.apply(
      name,
      { tag: 'keeper-gone', orphan, dismissed, now: Date.now(), retry: lost <= 1 },
      {
        data: (rec) => void (adopting || (rec.keeper = null)),
        startError: why ?? 'its keeper died before the command started',
        startFailure: why ? { argv: this.core.store.entity(name)?.argv ?? [], exitCode: null, signal: null, startError: why } : undefined,
      },
    );
    if (applied?.outcome) transitions.perform(applied.entity, applied.outcome.effects);
  }

  /** Watch the life FIFO of the entity's keeper (once per serial). */
  watch(e: EntityRecord): void {
    if (!e.keeper) return;
    const serial = e.keeper.serial;
    const have = this.lifeWatches.get(e.name);
    if (have?.serial === serial) return;
    have?.dispose(); // an older keeper's watch: the new keeper replaces it
    const dispose = watchLife(this.core.paths, e.id, serial, () => {
      if (this.lifeWatches.get(e.name)?.serial === serial) this.lifeWatches.delete(e.name);
      this.keeperGone(e.name, serial);
    });
    this.lifeWatches.set(e.name, { serial, dispose });
  }

  unwatch(name: string): void {
    this.lifeWatches.get(name)?.dispose();
    this.lifeWatches.delete(name);
    this.lostBeforeExec.delete(name);
    this.strays.delete(name);
  }

  /** Stop watching keeper `serial` of `name` (a newer keeper's watch stays). */
  unwatchSerial(name: string, serial: number): void {
    if (this.lifeWatches.get(name)?.serial === serial) this.unwatch(name);
  }
}
