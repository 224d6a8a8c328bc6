// What keepers report: inbox records (K P S F X, see keeper.pl) and the EOF
// of their life FIFO. Each report is applied to the store in one fenced
// transaction, with the event it fires and the runs it starts, and only then
// acted on (the keeper answered, a restart scheduled, the coordinator told).
import { Inbox, type InboxItem, type KeeperRecord, type Verdict } from '../keeper/inbox.js';
import { commandKeeper, decodeWaitStatus, removeKeeperDir, watchLife } from '../keeper/link.js';
import { judge } from '../keeper/records.js';
import { errnoName } from '../proc/names.js';
import { isAlive, procId } from '../proc/procfs.js';
import type { EntityRecord } from '../store/types.js';
import { isAbnormal } from './conditions.js';
import { emptyFired, type Fired } from './dispatch.js';
import type { SupervisorCore } from './supervisor-core.js';

type Exit = { code: number | null; signal: string | null; core: boolean };
const UNKNOWN_EXIT: Exit = { code: null, signal: null, core: false };

export class KeeperRecords {
  private readonly inbox: Inbox;
  /** One life watch per entity, for the keeper serial it watches. */
  private readonly lifeWatches = new Map<string, { serial: number; dispose: () => void }>();

  constructor(private readonly core: SupervisorCore) {
    this.inbox = new Inbox(
      core.paths.inbox,
      (item) => this.onItem(item),
      (file, why, level) => core.log(level, level === 'warn' ? "bad file in the keepers' inbox: removed" : 'stale keeper record removed', { file, why }),
    );
  }

  start(): void {
    this.inbox.start();
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

  private applyKeeperRecord(name: string, seq: number, r: KeeperRecord): void {
    const now = Date.now();
    const fired = emptyFired();
    fired.seenAt = performance.now();
    const e = this.core.updateIfPresent(
      name,
      (rec) => {
        const k = rec.keeper!;
        k.lastSeq = seq;
        switch (r.kind) {
          case 'K':
            if (k.pid === 0) Object.assign(k, procId(r.pid) ?? { pid: r.pid, start: 0 });
            break;
          case 'P': {
            // Forked, not yet exec'd; exec keeps the pid and start time, so this identifies it.
            rec.pid = r.pid;
            rec.pidStart = procId(r.pid)?.start ?? null;
            break;
          }
          case 'S':
            this.started(rec, r.pid, now, fired);
            break;
          case 'F':
            rec.lastError = `cannot execute ${JSON.stringify(rec.argv[0])}: ${errnoName(r.errno)}`;
            rec.failedStartAt = now;
            processGone(rec, seq);
            rec.restartPending = false;
            rec.state = rec.desired === 'stopped' ? 'stopped' : 'dead';
            break;
          case 'X':
            this.recordDeath(rec, decodeWaitStatus(r.status), r.pid, seq, now, fired);
            break;
        }
      },
      `apply-${r.kind}:${name}`,
    );
    if (!e) return;
    const { coord } = this.core.with;
    this.core.log('info', `keeper record ${r.kind}`, { entity: name, seq, record: r, state: e.state, lastExit: e.lastExit });
    this.core.publish(fired);
    if (r.kind === 'K') this.watch(e);
    if (r.kind === 'S' && e.desired === 'stopped') this.core.signalGroup(e, e.stopPolicy.signal as NodeJS.Signals);
    if (r.kind === 'F' || r.kind === 'X') this.releaseIfDone(e);
    if (r.kind === 'S' || r.kind === 'F') coord.onSettled(name);
    if (r.kind === 'X') coord.onDown(name);
  }

  /** Inside a transaction: the command runs as `pid`. */
  started(rec: EntityRecord, pid: number, now: number, fired: Fired): void {
    if (rec.pid !== pid || rec.pidStart === null) {
      rec.pid = pid;
      rec.pidStart = procId(pid)?.start ?? null;
    }
    rec.state = 'running';
    rec.instance += 1;
    rec.awaiting = null;
    rec.restartAt = null;
    rec.restartPending = false;
    rec.lastError = null;
    rec.startedAt = now;
    if (rec.restarting) {
      rec.restarts += 1;
      rec.restarting = false;
      this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: 'restart', pid }, rec, fired);
      rec.conditions = rec.conditions.filter((c) => c.rearm); // not re-armed: pruned at restart
    }
  }

  /** Inside a transaction: the entity died; fire its death conditions and decide. */
  private recordDeath(rec: EntityRecord, exit: Exit, pid: number | null, seq: number | null, now: number, fired: Fired): void {
    if (rec.kind === 'self' && rec.state === 'dead') {
      // Its connection already closed without a detach: that was the death.
      processGone(rec, seq);
      return;
    }
    const wasRunning = rec.state === 'running';
    const health = rec.healthFailing;
    this.core.parts.healthKills.forget(rec.name);
    rec.lastUptimeMs = rec.startedAt !== null && wasRunning ? now - rec.startedAt : null;
    rec.lastExit = { code: exit.code, signal: exit.signal };
    rec.diedAt = now;
    processGone(rec, seq);
    if (rec.desired === 'stopped') {
      rec.state = 'stopped'; // a stop we asked for is not a death
      rec.restartPending = false;
      return;
    }
    this.core.with.heartbeats.untrack(rec.name);
    rec.deaths += 1;
    rec.state = 'dead';
    const detail = health ? `after a failed health check (${health.reason})` : undefined;
    const f = this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: isAbnormal(exit) ? 'abnormal-death' : 'death', pid, exit, ...(detail ? { detail } : {}) }, rec, fired);
    rec.restartPending = f.restart;
  }

  /** A self-attached client hung up while its process lives: its death (its keeper reports the exit later). */
  connectionDeath(name: string): void {
    const fired = emptyFired();
    fired.seenAt = performance.now();
    this.core.updateIfPresent(name, (rec) => this.recordDeath(rec, UNKNOWN_EXIT, rec.pid, null, Date.now(), fired));
    this.core.publish(fired);
  }

  /** After a death or a stop: tell the keeper waiting on its death record to exit, unless a restart is coming. */
  releaseIfDone(e: EntityRecord): void {
    if (e.awaiting === null || !e.keeper || e.restartPending) return;
    if (e.state !== 'dead' && e.state !== 'stopped' && e.state !== 'failed') return;
    if (!commandKeeper(this.core.paths, e.id, e.keeper.serial, 'x', e.awaiting)) this.keeperGone(e.name, e.keeper.serial);
  }

  /** The keeper's life FIFO hit EOF: it exited or was killed. */
  keeperGone(name: string, serial: number): void {
    const { store, paths, parts } = this.core;
    this.unwatchSerial(name, serial);
    this.inbox.drain(); // whatever it wrote before dying comes first
    const e = store.entity(name);
    if (e) removeKeeperDir(paths, e.id, serial);
    if (!e || !e.keeper || e.keeper.serial !== serial) return;
    const dismissed = e.awaiting !== null && !e.restartPending && (e.state === 'stopped' || e.state === 'dead' || e.state === 'failed');
    if (dismissed) {
      this.core.updateIfPresent(name, (rec) => {
        rec.keeper = null;
        rec.awaiting = null;
      });
      return;
    }
    this.core.log('warn', 'keeper died', { entity: name, keeper: e.keeper.pid, state: e.state });
    const orphan = e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart });
    const fired = emptyFired();
    if (orphan && (e.state === 'running' || e.state === 'starting')) {
      if (e.state === 'starting') {
        // It had forked the command (P) but not reported the exec: the command runs.
        this.core.updateIfPresent(name, (rec) => this.started(rec, rec.pid!, Date.now(), fired));
        this.core.publish(fired);
      }
      return parts.spawner.spawnNew(name, false, e.pid!);
    }
    const after = this.core.updateIfPresent(name, (rec) => {
      rec.keeper = null;
      rec.awaiting = null;
      if (rec.state === 'running') {
        // Its process died with it and nobody saw the status.
        this.recordDeath(rec, UNKNOWN_EXIT, rec.pid, null, Date.now(), fired);
      } else if (rec.state === 'starting') {
        // It died before the command ran: this start failed.
        rec.state = 'dead';
        rec.restarting = false;
        rec.pid = null;
        rec.pidStart = null;
        rec.lastError = 'its keeper died before the command started';
        rec.failedStartAt = Date.now();
      }
    });
    this.core.publish(fired);
    if (after && after.state === 'dead' && after.restartAt !== null) parts.restarts.schedule(after);
    this.core.with.coord.onSettled(name);
    this.core.with.coord.onDown(name);
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
  }

  /** Stop watching keeper `serial` of `name` (a newer keeper's watch stays). */
  unwatchSerial(name: string, serial: number): void {
    if (this.lifeWatches.get(name)?.serial === serial) this.unwatch(name);
  }
}

/** The entity's process is gone: its keeper (if any) waits on death record `seq`. */
function processGone(rec: EntityRecord, seq: number | null): void {
  // A joined client's heartbeat and health check were this process's: its next instance attaches anew.
  if (rec.kind !== 'self') rec.heartbeat = null;
  rec.health = null;
  rec.healthFailing = null;
  rec.pid = null;
  rec.pidStart = null;
  rec.awaiting = seq;
  rec.restarting = false;
  rec.restartAt = null;
}
