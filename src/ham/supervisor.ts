// The entity state machine. Keepers report (inbox records, life-FIFO EOF);
// the supervisor applies each report to the store in one fenced transaction
// (with the event it fires and the action runs it starts) and only then acts
// (answers the keeper, signals, spawns). Because every decision is in the
// store before it is carried out, a new HAM that takes over re-derives the
// same next step, and the keepers' sequence numbers make a repeated command
// harmless: nothing is lost, duplicated or restarted twice.
import { EventEmitter } from 'node:events';
import { HamError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { HomePaths } from '../home.js';
import { Inbox, type InboxItem, type KeeperRecord, type Verdict } from '../keeper/inbox.js';
import { judge } from '../keeper/records.js';
import { commandKeeper, decodeWaitStatus, detachKeeper, keeperDir, removeKeeperDir, spawnKeeper, watchLife } from '../keeper/link.js';
import type { Logger } from '../log.js';
import { errnoName } from '../proc/names.js';
import { findProcesses, isAlive, procId, signalProc, type ProcId } from '../proc/procfs.js';
import type { Occurrence, RunRecord } from '../model/conditions.js';
import type { Store } from '../store/store.js';
import { GLOBAL, type EntityRecord } from '../model/records.js';
import { makeRunAction } from './actions.js';
import { intensity, nextBackoff } from './backoff.js';
import { isAbnormal } from './conditions.js';
import { Dispatcher, emptyFired, logFired, type Fired } from './dispatch.js';
import type { EventHub } from './events.js';
import { Executor, type ActionResult } from './executor.js';
import { Coordinator } from './coordinator.js';
import { HealthChecker } from './health.js';
import { releaseKeepers } from './release.js';
import { paced, prepareNew } from './commit.js';
import { Pacer } from './pace.js';
import { HeartbeatMonitor } from './heartbeats.js';
import type { Socket } from 'node:net';
import { encodeFrame } from '../protocol/frame.js';
import { entityDefaults } from '../model/defaults.js';
import type { GroupSpec, HealthSpec, HeartbeatSpec, RestartPolicy, StopPolicy } from '../model/records.js';

export interface SupervisorOptions {
  store: Store;
  epoch: number;
  paths: HomePaths;
  log: Logger;
  hub: EventHub;
  /** The environment entities inherit (the daemon's, as `ham start` saw it). */
  baseEnv: Record<string, string>;
  /** Called when a write finds the epoch moved on: this process is no longer the HAM. */
  onFenced: (e: HamError) => never;
}

const KILL_GRACE_MS = 2000;
const FIRST_START_WAIT_MS = 5000;
const SPAWNS_PER_TURN = 8;
const OCCURRENCES_PER_TXN = 128;
/** After a takeover, self-attached clients have this long (beyond their period) to re-attach. */
const TAKEOVER_GRACE_MS = 1000;
/** A restart that has not produced a running process by then has failed. */
const RESTART_DEADLINE_MS = 30_000;

/** What `attach` creates: a process the HAM spawns, one it adopts, or a name to fill later. */
export interface NewEntity {
  name: string;
  kind: 'spawned' | 'pid' | 'self' | 'placeholder';
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  pid?: number;
  conditions: EntityRecord['conditions'];
  restartPolicy?: RestartPolicy;
  stopPolicy?: StopPolicy;
  group?: string | null;
  requires?: string[];
}

export function blankEntity(n: NewEntity, id: number): EntityRecord {
  const d = entityDefaults();
  return {
    ...d,
    id,
    name: n.name,
    kind: n.kind,
    argv: n.argv,
    env: n.env,
    cwd: n.cwd,
    conditions: n.conditions,
    state: n.kind === 'placeholder' ? 'stopped' : 'starting',
    restartPolicy: n.restartPolicy ?? d.restartPolicy,
    stopPolicy: n.stopPolicy ?? d.stopPolicy,
    group: n.group ?? d.group,
    requires: n.requires ?? d.requires,
    createdAt: Date.now(),
  };
}

export class Supervisor {
  private readonly store: Store;
  private readonly epoch: number;
  private readonly paths: HomePaths;
  private readonly log: Logger;
  private readonly hub: EventHub;
  private readonly baseEnv: Record<string, string>;
  private readonly onFenced: (e: HamError) => never;
  private readonly inbox: Inbox;
  private readonly names = new Map<number, string>();
  /** One life watch per entity, for the keeper serial it watches. */
  private readonly lifeWatches = new Map<string, { serial: number; dispose: () => void }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  readonly dispatcher: Dispatcher;
  readonly executor: Executor;
  readonly heartbeats: HeartbeatMonitor;
  readonly health: HealthChecker;
  readonly coord: Coordinator;
  /** SIGKILLs due after a failed health check's grace, by entity. */
  private readonly healthKills = new Map<string, NodeJS.Timeout>();
  /** Self-attached entities by the connection that attached them... */
  private readonly selves = new Map<Socket, Set<string>>();
  /** ...and the one connection each name belongs to now (a re-attach moves it). */
  private readonly owners = new Map<string, Socket>();
  /** Bulk starts (apply, resume), a few per event-loop turn: each spawn() forks this process. */
  private readonly spawnQueue: { name: string; adoptPid?: number }[] = [];
  private pending: { o: Occurrence; resolve: (seq: number) => void; reject: (e: Error) => void; seenAt: number }[] = [];
  /** Fires `change` with the entity name after every applied transition. */
  readonly events = new EventEmitter();

  constructor(o: SupervisorOptions) {
    this.store = o.store;
    this.epoch = o.epoch;
    this.paths = o.paths;
    this.log = o.log;
    this.hub = o.hub;
    this.baseEnv = o.baseEnv;
    this.onFenced = o.onFenced;
    this.events.setMaxListeners(0);
    this.inbox = new Inbox(
      this.paths.inbox,
      (item) => this.onItem(item),
      (file, why, level) => this.log(level, level === 'warn' ? 'bad file in the keepers\' inbox: removed' : 'stale keeper record removed', { file, why }),
    );
    this.executor = new Executor({
      store: this.store,
      log: this.log,
      write: (fn) => this.write(fn),
      runAction: makeRunAction({
        store: this.store,
        paths: this.paths,
        log: this.log,
        baseEnv: this.baseEnv,
        write: (fn) => this.write(fn),
        restart: (run) => this.restartForRun(run),
        notify: (run, message) => this.publish({ ...emptyFired(), events: [this.write(() => this.dispatcher.notifyEvent({ seq: run.seq, entity: run.target }, message))] }),
        heartbeatHealthy: (name) => this.heartbeatHealthy(name),
      }),
      onDone: (run) => this.events.emit('run-done', run),
    });
    this.dispatcher = new Dispatcher(this.store, (t) => this.executor.busy(t), (t) => this.executor.load(t));
    this.heartbeats = new HeartbeatMonitor((name, level) => {
      this.occur({ entity: name, type: level === 'low' ? 'heartbeat-missed-low' : 'heartbeat-missed-high' }).catch(() => undefined);
    });
    this.coord = new Coordinator(
      {
        entity: (n) => this.store.entity(n),
        all: () => this.store.allEntities(),
        groups: () => this.store.groups(),
        holdStop: (n, why) => this.holdStop(n, why),
        startNow: (n, restarting) => this.startNow(n, restarting),
        holdInstead: (n, why) => this.holdInstead(n, why),
      },
      this.log,
    );
    this.health = new HealthChecker(
      (name, call) => {
        const conn = this.owners.get(name);
        if (!conn || conn.destroyed || conn.writableEnded) return false;
        conn.write(encodeFrame({ id: 0, call, op: 'health-check', name }));
        return true;
      },
      (name, reason) => this.healthFailed(name, reason),
    );
  }

  /**
   * Resume every entity from the store. `fresh` is a `ham start` (entities a
   * `stop --all` stopped are started again), otherwise a takeover.
   */
  resume(fresh: boolean): void {
    for (const e of this.store.allEntities()) this.names.set(e.id, e.name);
    // Runs left by the previous HAM first: the inbox and reconcile below may fire
    // new runs, which must neither be started twice nor overtake the old ones.
    this.executor.resumeAll();
    this.inbox.start();
    for (const e of this.store.allEntities()) this.reconcile(e, fresh);
    // Self-attached entities get a fresh window plus a grace for their clients to
    // reconnect (while the new Guardian boots beside us): a takeover is not silence.
    const grace = fresh ? 0 : TAKEOVER_GRACE_MS;
    for (const e of this.store.allEntities()) {
      if (e.state !== 'running') continue;
      if (e.heartbeat) this.heartbeats.track(e.name, e.heartbeat, e.heartbeatState, performance.now() + grace);
      if (e.healthFailing) this.scheduleHealthKill(e.name, e.healthFailing.killAt);
      else if (e.health) this.health.track(e.name, e.health, e.health.intervalMs + grace);
    }
  }

  close(): void {
    // `ham stop` closes every client connection next: that is not their deaths.
    this.selves.clear();
    this.owners.clear();
    this.heartbeats.close();
    this.health.close();
    for (const t of this.healthKills.values()) clearTimeout(t);
    this.healthKills.clear();
    this.executor.close();
    this.inbox.close();
    for (const w of this.lifeWatches.values()) w.dispose();
    for (const t of this.timers.values()) clearTimeout(t);
    this.lifeWatches.clear();
    this.timers.clear();
  }

  // ---- requests -----------------------------------------------------------

  /** Attach a new entity, or fill a placeholder of the same name. */
  async attach(n: NewEntity): Promise<EntityRecord> {
    if (n.pid !== undefined && !procId(n.pid)) throw new HamError({ code: 'bad-request', entity: n.name, message: `attach.pid: expected a running process, got ${n.pid} (no such process)` });
    let fired: Fired = emptyFired();
    const e = this.write(() => {
      const old = this.store.entity(n.name);
      if (old && !(old.kind === 'placeholder' && n.kind !== 'placeholder')) {
        throw new HamError({ code: 'duplicate-entity', entity: n.name, message: `an entity named ${JSON.stringify(n.name)} is already attached` });
      }
      const rec = old ? { ...old, kind: n.kind, argv: n.argv, env: n.env, cwd: n.cwd, state: 'starting' as const, conditions: [...old.conditions, ...n.conditions.filter((c) => !old.conditions.some((o) => o.name === c.name))] } : blankEntity(n, this.store.nextId());
      if (n.kind !== 'placeholder') fired = this.dispatcher.fireInTxn({ entity: n.name, type: 'attach', pid: n.pid ?? null }, rec);
      this.store.putEntity(rec);
      return rec;
    });
    this.names.set(e.id, e.name);
    this.publish(fired);
    if (n.kind === 'placeholder') return e;
    const started = this.waitFor(e.name, (x) => x === undefined || x.instance > 0 || x.lastError !== null || (x.kind === 'pid' && x.keeper !== null && x.keeper.lastSeq > 0), FIRST_START_WAIT_MS);
    this.spawnNew(e.name, false, n.pid);
    const after = await started;
    if (after?.lastError && after.instance === 0 && after.kind === 'spawned') {
      // It never ran: leave nothing behind, so the user can fix the command and attach again.
      this.forget(after);
      throw new HamError({ code: 'spawn-failed', entity: n.name, message: after.lastError });
    }
    return after ?? e;
  }

  /** Remove an entity that never ran (its keeper, if any, is told to exit). */
  private forget(e: EntityRecord): void {
    this.unwatch(e.name);
    this.cancelTimer(e.name);
    if (e.keeper && e.awaiting !== null) commandKeeper(this.paths, e.id, e.keeper.serial, 'x', e.awaiting);
    this.write(() => this.store.removeEntity(e.name));
    if (e.keeper) removeKeeperDir(this.paths, e.id, e.keeper.serial);
    this.names.delete(e.id);
    this.events.emit('change', e.name);
  }

  /** `ham apply`: create and update entities in one transaction, then start the new ones. */
  async commitPlan(creates: NewEntity[], updates: { name: string; fn: (x: EntityRecord) => void }[], groups?: Record<string, GroupSpec>): Promise<void> {
    const fired = emptyFired();
    const pace = new Pacer();
    // New placeholders encoded before the transaction (see commit.ts); others need the dispatcher inside it.
    const prep = await prepareNew(this.store, creates.filter((n) => n.kind === 'placeholder'), blankEntity, pace);
    await pace.yield(); // the transaction starts a turn of its own, not at the end of a slice
    const made = this.write(() => {
      if (groups) this.store.putGroups(groups);
      this.coord.invalidate();
      // Ids taken meanwhile (an attach between slices): every record is made here instead.
      const usable = prep.byName.size > 0 && this.store.reserveIds(prep.byName.size) === prep.firstId;
      const out: EntityRecord[] = [];
      for (const n of creates) {
        const p = usable ? prep.byName.get(n.name) : undefined;
        if (p && !this.store.hasEntity(n.name)) {
          this.store.putEncodedEntity(n.name, p.encoded);
          out.push(p.rec);
          continue;
        }
        const old = this.store.entity(n.name);
        // Planned as new (or a placeholder to fill), but attached while the apply was planning: nothing is applied.
        if (old && old.kind !== 'placeholder') throw new HamError({ code: 'duplicate-entity', entity: n.name, message: `${n.name} was attached while this apply was being planned; nothing was applied: apply the file again` });
        const rec = old ? { ...old, kind: n.kind, argv: n.argv, env: n.env, cwd: n.cwd, state: n.kind === 'placeholder' ? old.state : ('starting' as const), conditions: n.conditions, restartPolicy: n.restartPolicy ?? old.restartPolicy, stopPolicy: n.stopPolicy ?? old.stopPolicy, group: n.group ?? old.group, requires: n.requires ?? old.requires } : blankEntity(n, this.store.nextId());
        if (n.kind !== 'placeholder') this.dispatcher.fireInTxn({ entity: n.name, type: 'attach', pid: n.pid ?? null }, rec, fired);
        this.store.putEntity(rec);
        out.push(rec);
      }
      for (const u of updates) {
        const x = this.store.entity(u.name) ?? (u.name === GLOBAL ? this.createGlobal() : undefined);
        if (!x) continue;
        u.fn(x);
        this.store.putEntity(x);
      }
      return out;
    });
    this.publish(fired);
    const byName = new Map(creates.map((c) => [c.name, c])); // not creates.find per entity: O(n²) at 10,000
    for (const e of made) this.names.set(e.id, e.name);
    // Change events and spawns a slice at a time: 10,000 of them in one turn is a stall too.
    await paced(
      made,
      (e) => {
        this.events.emit('change', e.name);
        const n = byName.get(e.name)!;
        if (n.kind !== 'placeholder') this.spawnSoon(e.name, n.pid);
      },
      pace,
    );
  }

  /**
   * Start (or adopt) soon, a few per turn: a thousand spawns in one loop would
   * block the event loop for seconds, and the Guardian would rightly call it a hang.
   */
  private spawnSoon(name: string, adoptPid?: number): void {
    this.spawnQueue.push({ name, adoptPid });
    if (this.spawnQueue.length === 1) setImmediate(() => this.drainSpawns());
  }

  private drainSpawns(): void {
    for (const job of this.spawnQueue.splice(0, SPAWNS_PER_TURN)) {
      const e = this.store.entity(job.name);
      if (!e || e.desired !== 'running' || e.keeper) continue;
      if (!job.adoptPid && !this.coord.requirementsUp(e)) this.holdInstead(job.name, 'requires'); // started once they run
      else if (!job.adoptPid && this.coord.waitsForGroup(e)) this.holdInstead(job.name, 'group'); // its group starts in order
      else this.spawnNew(job.name, false, job.adoptPid);
    }
    if (this.spawnQueue.length) setImmediate(() => this.drainSpawns());
  }

  detach(name: string): void {
    const e = this.mustGet(name);
    if (name === GLOBAL) throw new HamError({ code: 'bad-request', entity: name, message: 'the global entity * cannot be detached' });
    this.heartbeats.untrack(name);
    this.forgetHealth(name);
    const owner = this.owners.get(name);
    if (owner) this.selves.get(owner)?.delete(name);
    this.owners.delete(name);
    this.unwatch(name);
    this.cancelTimer(name);
    if (e.keeper && isAlive(e.keeper)) detachKeeper(e.keeper);
    const fired = this.write(() => {
      const f = this.dispatcher.fireInTxn({ entity: name, type: 'detach', pid: e.pid }, e);
      this.store.removeEntity(name);
      return f;
    });
    if (e.keeper) removeKeeperDir(this.paths, e.id, e.keeper.serial);
    this.names.delete(e.id);
    this.coord.invalidate();
    this.publish(fired);
    this.log('info', 'entity detached; its process keeps running', { entity: name, pid: e.pid });
    this.events.emit('change', name);
  }

  /** Graceful stop of every entity: TERM to its group, then KILL. */
  async stopAll(): Promise<void> {
    const names = this.store
      .allEntities()
      .filter((e) => e.kind === 'spawned' || e.kind === 'pid')
      .map((e) => e.name);
    // Dependants before what they require, groups in reverse order; the rest together.
    this.coord.stopping = true;
    for (const wave of this.coord.stopWaves(names)) await Promise.all(wave.map((n) => this.stopOne(n)));
    const released = releaseKeepers(this.paths, this.store.allEntities(), (n) => this.unwatch(n));
    if (released) this.log('info', 'stop --all: keepers released', { keepers: released });
  }

  all(): EntityRecord[] {
    return this.store.allEntities();
  }

  groups(): Record<string, GroupSpec> {
    return this.store.groups();
  }

  get(name: string): EntityRecord | undefined {
    return this.store.entity(name);
  }

  mustGet(name: string): EntityRecord {
    const e = this.store.entity(name);
    if (!e) throw new HamError({ code: 'unknown-entity', entity: name, message: `no entity named ${JSON.stringify(name)}` });
    return e;
  }

  /**
   * Record an occurrence reported from outside (raise, state). Occurrences
   * arriving in the same turn share one transaction; resolves with the seq.
   */
  occur(o: Occurrence): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ o, resolve, reject, seenAt: performance.now() });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    // A bounded batch per turn: timers (heartbeat deadlines) run between batches.
    const batch = this.pending.splice(0, OCCURRENCES_PER_TXN);
    if (this.pending.length) setImmediate(() => this.flush());
    this.flushBatch(batch);
  }

  /** One transaction for the batch; if it fails, each occurrence alone (one bad one must not sink the rest). */
  private flushBatch(batch: typeof this.pending): void {
    const fired = emptyFired();
    fired.seenAt = batch[0]?.seenAt;
    const seqs: number[] = [];
    try {
      this.write(() => {
        const touched = new Map<string, EntityRecord>();
        for (const { o } of batch) {
          const t = touched.get(o.entity) ?? this.store.entity(o.entity);
          if (!t) throw new HamError({ code: 'unknown-entity', entity: o.entity, message: `no entity named ${JSON.stringify(o.entity)}` });
          touched.set(o.entity, t);
          const made = o.key === undefined ? undefined : this.store.keyedSeq(o.key);
          if (made !== undefined) {
            seqs.push(made); // sent again after a takeover: it happened once
            continue;
          }
          if (o.state) {
            o.state.from = t.userState;
            t.userState = o.state.to;
          }
          if (o.type === 'heartbeat-missed-low') t.heartbeatState = 'missed-low';
          if (o.type === 'heartbeat-missed-high') t.heartbeatState = 'missed-high';
          const first = fired.events.length;
          this.dispatcher.fireInTxn(o, t, fired);
          seqs.push(fired.events[first]!.seq);
        }
        for (const t of touched.values()) this.store.putEntity(t);
      });
    } catch (e) {
      if (batch.length > 1) for (const p of batch) this.flushBatch([p]);
      else batch[0]?.reject(e as Error);
      return;
    }
    this.publish(fired);
    failpoint('occurrences-committed'); // crash tests: committed, not yet answered
    batch.forEach((p, i) => p.resolve(seqs[i]!));
  }

  /** After a commit: push events, write inline logs, start runs. */
  publish(f: Fired): void {
    for (const name of f.healthy ?? []) this.heartbeats.reset(name);
    this.hub.publish(f.events);
    logFired(this.log, f);
    this.executor.start(f.runs, f.seenAt);
  }

  // ---- self-attached entities ----------------------------------------------

  /**
   * A process attaches itself. A re-attach by the same process (its library
   * reconnecting after a takeover) keeps its instance; a new process of the
   * same name is the next instance. Its pid is watched by a keeper (pidfd).
   * The process of a spawned or pid entity may attach itself too (to beat or
   * be health-checked): it joins that entity, which stays what it is.
   */
  attachSelf(conn: Socket, a: { name: string; pid: number; heartbeat: HeartbeatSpec | null; health: HealthSpec | null }): EntityRecord {
    const id = procId(a.pid);
    if (!id) throw new HamError({ code: 'bad-request', entity: a.name, message: `self-attach.pid: expected a running process, got ${a.pid}` });
    const fired = emptyFired();
    let adopt = false;
    // Set inside the transaction (a holder: TypeScript does not follow assignments in closures).
    const previous: { k: { keeper: NonNullable<EntityRecord['keeper']>; awaiting: number | null; id: number } | null } = { k: null };
    const e = this.write(() => {
      const old = this.store.entity(a.name);
      if (old?.keeper) previous.k = { keeper: old.keeper, awaiting: old.awaiting, id: old.id };
      const joins = (old?.kind === 'spawned' || old?.kind === 'pid') && old.pid === a.pid && old.pidStart === id.start && (old.state === 'running' || old.state === 'starting');
      if (old && old.kind !== 'self' && old.kind !== 'placeholder' && !joins) {
        throw new HamError({ code: 'duplicate-entity', entity: a.name, message: `an entity named ${JSON.stringify(a.name)} is already attached (kind ${old.kind}${old.pid !== null ? `, pid ${old.pid}` : ''}); only its own process (pid ${old.pid ?? 'none'}) may attach itself to it, not pid ${a.pid}` });
      }
      const same = joins || (old?.kind === 'self' && old.pid === a.pid && old.pidStart === id.start && old.state === 'running');
      if (old && old.kind === 'self' && old.state === 'running' && !same && old.pid !== null && old.pidStart !== null && isAlive({ pid: old.pid, start: old.pidStart })) {
        throw new HamError({ code: 'duplicate-entity', entity: a.name, message: `${JSON.stringify(a.name)} is attached by another live process (pid ${old.pid})` });
      }
      const rec: EntityRecord = old ? { ...old } : blankEntity({ name: a.name, kind: 'self', argv: [], env: {}, cwd: '/', conditions: [] }, this.store.nextId());
      rec.heartbeat = a.heartbeat;
      rec.health = a.health;
      if (!same) {
        rec.kind = 'self';
        rec.pid = a.pid;
        rec.pidStart = id.start;
        rec.state = 'running';
        rec.instance += 1;
        rec.startedAt = Date.now();
        rec.heartbeatState = 'ok';
        rec.lastError = null;
        rec.healthFailing = null; // the previous instance's failure is not this one's
        adopt = true;
        this.dispatcher.fireInTxn({ entity: a.name, type: 'attach', pid: a.pid }, rec, fired);
      }
      this.store.putEntity(rec);
      return rec;
    });
    this.names.set(e.id, e.name);
    this.publish(fired);
    let bound = this.selves.get(conn);
    if (!bound) {
      bound = new Set();
      this.selves.set(conn, bound);
      conn.once('close', () => this.selfConnClosed(conn));
    }
    bound.add(e.name);
    const prev = this.owners.get(e.name);
    if (prev && prev !== conn) this.selves.get(prev)?.delete(e.name); // its old connection no longer speaks for it
    this.owners.set(e.name, conn);
    if (adopt) this.forgetHealth(e.name); // a kill due for the previous instance is not for this one
    if (e.heartbeat) this.heartbeats.track(e.name, e.heartbeat, e.heartbeatState);
    else this.heartbeats.untrack(e.name);
    // A check already failed for this instance: its SIGKILL is coming, no more calls.
    if (e.health && !e.healthFailing) this.health.track(e.name, e.health);
    else if (!e.health) this.health.untrack(e.name);
    if (adopt) {
      const k = previous.k;
      if (k) {
        // The previous instance's keeper watches a pid that is not ours any more: let it go.
        if (this.lifeWatches.get(e.name)?.serial === k.keeper.serial) this.unwatch(e.name);
        if (isAlive(k.keeper)) {
          if (k.awaiting !== null) commandKeeper(this.paths, k.id, k.keeper.serial, 'x', k.awaiting);
          else detachKeeper(k.keeper);
        }
        removeKeeperDir(this.paths, k.id, k.keeper.serial);
      }
      this.spawnNew(e.name, false, a.pid);
    }
    this.events.emit('change', e.name);
    return e;
  }

  /** A beat from the connection that attached `name`; false if it did not. */
  beat(conn: Socket, name: string): boolean {
    return this.owners.get(name) === conn && this.heartbeats.beat(name);
  }

  /** Detach by the client itself: fires detach; the entity is removed. */
  detachSelf(conn: Socket, name: string): void {
    const e = this.mustGet(name);
    if (e.kind !== 'self') {
      // A spawned or pid entity's own process withdraws its heartbeat and health check; the entity stays.
      if (this.owners.get(name) !== conn) throw new HamError({ code: 'bad-request', entity: name, message: `self-detach: ${name} is not attached by this connection` });
      this.selves.get(conn)?.delete(name);
      this.owners.delete(name);
      this.heartbeats.untrack(name);
      this.forgetHealth(name);
      this.update(name, (x) => {
        x.heartbeat = null;
        x.health = null;
      });
      return;
    }
    this.selves.get(conn)?.delete(name);
    this.heartbeats.untrack(name);
    this.detach(name);
  }

  /** The connection closed without a detach: for a live process that is its death (as in QNX). */
  private selfConnClosed(conn: Socket): void {
    const names = this.selves.get(conn);
    this.selves.delete(conn);
    for (const name of names ?? []) {
      if (this.owners.get(name) !== conn) continue; // re-attached elsewhere, or detached
      this.owners.delete(name);
      const e = this.store.entity(name);
      // A spawned or pid entity's process that joined is watched by its keeper;
      // if it stays silent, its heartbeats say so.
      if (!e || e.kind !== 'self' || e.state !== 'running') continue;
      this.heartbeats.untrack(name);
      // A process that exited is reported by its keeper, with what it knows; only a live one dies here.
      if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) continue;
      // It failed its health check and now went silent: its SIGKILL is not waited for any longer.
      if (e.healthFailing) signalProc({ pid: e.healthFailing.pid, start: e.healthFailing.pidStart }, 'SIGKILL');
      const fired = emptyFired();
      fired.seenAt = performance.now();
      this.update(name, (x) => this.recordDeath(x, { code: null, signal: null, core: false }, x.pid, null, Date.now(), fired));
      this.publish(fired);
      this.log('warn', 'self-attached entity closed its connection without detaching: death', { entity: name });
    }
  }

  /** The client's answer to a health-check call, from the connection that owns `name`. */
  healthReply(conn: Socket, name: string, call: number, healthy: boolean, message?: string): void {
    if (this.owners.get(name) === conn) this.health.reply(name, call, healthy, message);
  }

  /** A health check failed: record it and fire its conditions, send the warning signal, SIGKILL after the grace. */
  private healthFailed(name: string, reason: string): void {
    const fired = emptyFired();
    fired.seenAt = performance.now();
    const e = this.update(name, (x) => {
      if (x.state !== 'running' || x.pid === null || x.pidStart === null || !x.health || x.healthFailing) return;
      x.healthFailures += 1;
      x.healthFailing = { at: Date.now(), killAt: Date.now() + x.health.graceMs, pid: x.pid, pidStart: x.pidStart, reason };
      this.dispatcher.fireInTxn({ entity: name, type: 'health-check-failed', pid: x.pid, detail: reason }, x, fired);
    });
    if (!e?.healthFailing || !e.health) return;
    this.publish(fired);
    this.log('warn', e.health.graceMs > 0 ? `health check failed: sending ${e.health.signal}, SIGKILL in ${e.health.graceMs} ms` : 'health check failed: SIGKILL', { entity: name, pid: e.pid, reason });
    if (e.health.graceMs > 0) signalProc({ pid: e.healthFailing.pid, start: e.healthFailing.pidStart }, e.health.signal as NodeJS.Signals);
    this.scheduleHealthKill(name, e.healthFailing.killAt);
  }

  private scheduleHealthKill(name: string, at: number): void {
    clearTimeout(this.healthKills.get(name));
    const t = setTimeout(() => {
      this.healthKills.delete(name);
      const e = this.store.entity(name);
      const f = e?.healthFailing;
      if (!e || !f || e.pid !== f.pid || !isAlive({ pid: f.pid, start: f.pidStart })) return;
      this.log('warn', 'health check failed and the grace is over: SIGKILL', { entity: name, pid: f.pid });
      this.signalGroup(e, 'SIGKILL');
    }, Math.max(0, at - Date.now()));
    this.healthKills.set(name, t);
  }

  private forgetHealth(name: string): void {
    this.health.untrack(name);
    clearTimeout(this.healthKills.get(name));
    this.healthKills.delete(name);
  }

  private heartbeatHealthy(name: string): void {
    this.heartbeats.reset(name);
    const e = this.store.entity(name);
    if (e && e.heartbeatState !== 'ok') this.update(name, (x) => void (x.heartbeatState = 'ok'));
  }

  /** The global entity `*`, created on first use (its conditions match every entity). */
  createGlobal(): EntityRecord {
    return this.write(() => {
      const have = this.store.entity(GLOBAL);
      if (have) return have;
      const g: EntityRecord = { ...blankEntity({ name: GLOBAL, kind: 'placeholder', argv: [], env: {}, cwd: this.paths.root, conditions: [] }, 0), kind: 'global', state: 'stopped' };
      this.store.putEntity(g);
      return g;
    });
  }

  /** Read-modify-write one entity in a fenced transaction (for management requests). */
  mutate(name: string, fn: (x: EntityRecord) => void): EntityRecord {
    const e = this.update(name, fn);
    if (!e) throw new HamError({ code: 'unknown-entity', entity: name, message: `no entity named ${JSON.stringify(name)}` });
    return e;
  }

  // ---- the restart action -------------------------------------------------

  /** Bring the entity of `run` back; ok once a new process runs. Idempotent across takeovers. */
  async restartForRun(run: RunRecord): Promise<ActionResult> {
    const name = run.target;
    let e = this.store.entity(name);
    if (!e) return { ok: false, error: `entity ${name} is gone` };
    if (e.argv.length === 0) return { ok: false, error: `entity ${name} has no command to restart it with` };
    // Held by its group or a requirement: the coordinator brings it back; that is not a failure of this action.
    if (e.desired === 'stopped') return e.held ? { ok: true } : { ok: false, error: `entity ${name} is being stopped` };
    if (e.state === 'failed') return { ok: false, keep: true, error: `entity ${name} failed (${e.lastError}); \`ham reset ${name}\` brings it back` };
    const since = run.createdAt;
    const done = (x: EntityRecord | undefined): boolean => !x || (x.state === 'running' && (x.startedAt ?? 0) >= since) || (x.failedStartAt ?? 0) >= since || x.desired === 'stopped';
    if (e.state === 'running') return { ok: true }; // already back (or never died: a `now` restart)
    if (!done(e)) {
      const fired = emptyFired();
      e = this.update(name, (x) => {
        x.restartPending = true;
        if (x.restartAt === null && x.state !== 'starting') {
          // Decided once per death (restartAt is then set): a takeover re-reads the decision, never re-counts it.
          const now = Date.now();
          const i = intensity(x.restartPolicy.intensity, x.restartTimes, now);
          x.restartTimes = i.times;
          if (i.over) return this.escalate(x, now, fired);
          const b = nextBackoff(x.restartPolicy.backoff, x.backoffMs, x.lastUptimeMs);
          x.backoffMs = b.nextBackoffMs;
          x.restartAt = now + b.delayMs;
          x.state = 'dead';
        }
      });
      this.publish(fired);
      if (e?.state === 'failed') {
        this.carryOut(e);
        return { ok: false, keep: true, error: e.lastError ?? `entity ${name} failed` };
      }
      if (e && e.state === 'dead') this.scheduleRestart(e);
    }
    const wait = Math.max(0, (e?.restartAt ?? Date.now()) - Date.now()) + RESTART_DEADLINE_MS;
    const after = await this.waitFor(name, done, wait);
    if (after && after.state === 'running' && (after.startedAt ?? 0) >= since) return { ok: true };
    if (!after) return { ok: false, error: `entity ${name} is gone` };
    if (after.desired === 'stopped') return after.held ? { ok: true } : { ok: false, error: `entity ${name} is being stopped` };
    this.update(name, (x) => {
      x.restartPending = false;
      x.restartAt = null;
    });
    const now = this.store.entity(name);
    if (now) this.carryOut(now);
    return { ok: false, error: after.lastError ?? `entity ${name} did not start within ${wait} ms` };
  }

  /** Inside a transaction: more restarts than the intensity allows. Give up: `failed`, and the escalate conditions fire once. */
  private escalate(x: EntityRecord, now: number, fired: Fired): void {
    const p = x.restartPolicy.intensity!;
    x.state = 'failed';
    x.restartPending = false;
    x.restartAt = null;
    x.lastError = `restarted ${p.max} times within ${p.withinMs} ms: escalated and gave up`;
    x.diedAt = x.diedAt ?? now;
    this.dispatcher.fireInTxn({ entity: x.name, type: 'escalate', pid: null, detail: x.lastError }, x, fired);
    this.log('error', 'restart intensity exceeded: escalating; the entity is failed until `ham reset`', { entity: x.name, max: p.max, withinMs: p.withinMs });
  }

  /** `ham reset NAME`: a failed (or dead) entity gets fresh counters and is started again. */
  reset(name: string): EntityRecord {
    const cur = this.mustGet(name);
    if (cur.state !== 'failed' && cur.state !== 'dead') throw new HamError({ code: 'bad-request', entity: name, message: `reset: expected a failed or dead entity, got ${name} ${cur.state}` });
    if (cur.argv.length === 0) throw new HamError({ code: 'bad-request', entity: name, message: `reset: ${name} has no command to start it with` });
    const e = this.update(name, (x) => {
      x.restartTimes = [];
      x.backoffMs = x.restartPolicy.backoff.initialMs;
      x.restarts = 0;
      x.deaths = 0;
      x.lastError = null;
      x.state = 'dead';
      x.desired = 'running';
      x.restartAt = Date.now();
    })!;
    this.log('info', 'reset: started again with fresh counters', { entity: name });
    this.scheduleRestart(e);
    return e;
  }

  // ---- keeper reports -----------------------------------------------------

  private onItem(item: InboxItem): Verdict {
    const name = this.names.get(item.id);
    const e = name === undefined ? undefined : this.store.entity(name);
    const j = judge(item, e?.keeper, e !== undefined);
    if (j !== 'apply') return j;
    this.apply(e!.name, item.seq, item.record);
    return 'done';
  }

  private apply(name: string, seq: number, r: KeeperRecord): void {
    const now = Date.now();
    const fired = emptyFired();
    fired.seenAt = performance.now();
    const e = this.update(
      name,
      (x) => {
        const k = x.keeper!;
        k.lastSeq = seq;
        switch (r.kind) {
          case 'K':
            if (k.pid === 0) Object.assign(k, procId(r.pid) ?? { pid: r.pid, start: 0 });
            break;
          case 'P': {
            // Forked, not yet exec'd; exec keeps the pid and start time, so this identifies it.
            x.pid = r.pid;
            x.pidStart = procId(r.pid)?.start ?? null;
            break;
          }
          case 'S':
            this.started(x, r.pid, now, fired);
            break;
          case 'F':
            x.lastError = `cannot execute ${JSON.stringify(x.argv[0])}: ${errnoName(r.errno)}`;
            x.failedStartAt = now;
            processGone(x, seq);
            x.restartPending = false;
            x.state = x.desired === 'stopped' ? 'stopped' : 'dead';
            break;
          case 'X':
            this.recordDeath(x, decodeWaitStatus(r.status), r.pid, seq, now, fired);
            break;
        }
      },
      `apply-${r.kind}:${name}`,
    );
    if (!e) return;
    this.log('info', `keeper record ${r.kind}`, { entity: name, seq, record: r, state: e.state, lastExit: e.lastExit });
    this.publish(fired);
    if (r.kind === 'K') this.watch(e);
    if (r.kind === 'S' && e.desired === 'stopped') this.signalGroup(e, e.stopPolicy.signal as NodeJS.Signals);
    if (r.kind === 'F' || r.kind === 'X') this.carryOut(e);
    if (r.kind === 'S' || r.kind === 'F') this.coord.onSettled(name);
    if (r.kind === 'X') this.coord.onDown(name);
  }

  /** Inside a transaction: the command runs as `pid`. */
  private started(x: EntityRecord, pid: number, now: number, fired: Fired): void {
    if (x.pid !== pid || x.pidStart === null) {
      x.pid = pid;
      x.pidStart = procId(pid)?.start ?? null;
    }
    x.state = 'running';
    x.instance += 1;
    x.awaiting = null;
    x.restartAt = null;
    x.restartPending = false;
    x.lastError = null;
    x.startedAt = now;
    if (x.restarting) {
      x.restarts += 1;
      x.restarting = false;
      this.dispatcher.fireInTxn({ entity: x.name, type: 'restart', pid }, x, fired);
      x.conditions = x.conditions.filter((c) => c.rearm); // not re-armed: pruned at restart
    }
  }

  /** Inside a transaction: the entity died; fire its death conditions and decide. */
  private recordDeath(x: EntityRecord, exit: { code: number | null; signal: string | null; core: boolean }, pid: number | null, seq: number | null, now: number, fired: Fired): void {
    if (x.kind === 'self' && x.state === 'dead') {
      // Its connection already closed without a detach: that was the death.
      processGone(x, seq);
      return;
    }
    const wasRunning = x.state === 'running';
    const health = x.healthFailing;
    this.forgetHealth(x.name);
    x.lastUptimeMs = x.startedAt !== null && wasRunning ? now - x.startedAt : null;
    x.lastExit = { code: exit.code, signal: exit.signal };
    x.diedAt = now;
    processGone(x, seq);
    if (x.desired === 'stopped') {
      x.state = 'stopped'; // a stop we asked for is not a death
      x.restartPending = false;
      return;
    }
    this.heartbeats.untrack(x.name);
    x.deaths += 1;
    x.state = 'dead';
    const detail = health ? `after a failed health check (${health.reason})` : undefined;
    const f = this.dispatcher.fireInTxn({ entity: x.name, type: isAbnormal(exit) ? 'abnormal-death' : 'death', pid, exit, ...(detail ? { detail } : {}) }, x, fired);
    x.restartPending = f.restart;
  }

  /** After a death: let the keeper go unless a restart is coming. */
  private carryOut(e: EntityRecord): void {
    if (e.awaiting === null || !e.keeper || e.restartPending) return;
    if (e.state !== 'dead' && e.state !== 'stopped' && e.state !== 'failed') return;
    if (!commandKeeper(this.paths, e.id, e.keeper.serial, 'x', e.awaiting)) this.keeperGone(e.name, e.keeper.serial);
  }

  private scheduleRestart(e: EntityRecord): void {
    this.cancelTimer(e.name);
    const delay = Math.max(0, (e.restartAt ?? 0) - Date.now());
    if (delay === 0) return this.restartNow(e.name);
    this.timers.set(e.name, setTimeout(() => this.restartNow(e.name), delay));
  }

  private restartNow(name: string): void {
    this.timers.delete(name);
    const e = this.store.entity(name);
    if (!e || e.desired !== 'running' || e.restartAt === null || e.state !== 'dead') return;
    if (!this.coord.requirementsUp(e)) return this.holdInstead(name, 'requires');
    if (e.group && this.coord.restarting(e.group)) {
      // Its group is being restarted (in order): this one goes after that, not in the middle of it.
      this.timers.set(name, setTimeout(() => this.restartNow(name), 100));
      return;
    }
    if (this.coord.takesAlong(e)) return void this.coord.groupRestart(name);
    this.launch(name, true);
  }

  /** Start it now: through its waiting keeper if it has one, else a new keeper. */
  private launch(name: string, restarting: boolean): void {
    const e = this.store.entity(name);
    if (!e) return;
    if (e.state === 'dead' && e.keeper && e.awaiting !== null && isAlive(e.keeper)) {
      const seq = e.awaiting;
      const serial = e.keeper.serial;
      this.update(name, (x) => {
        x.state = 'starting';
        x.restarting = restarting;
        x.held = null;
      });
      if (commandKeeper(this.paths, e.id, serial, 'r', seq)) return;
    }
    this.spawnNew(name, restarting);
  }

  /** For the coordinator: stop gracefully, held (it comes back by itself). */
  private async holdStop(name: string, why: 'group' | 'requires'): Promise<void> {
    this.update(name, (x) => void (x.held = why));
    await this.stopOne(name);
    // Its requirement may have come back while it was stopping: then it starts now.
    const x = this.store.entity(name);
    if (x?.held === 'requires' && x.state === 'stopped' && this.coord.requirementsUp(x) && !this.coord.stopping) void this.startNow(name, x.instance > 0);
  }

  /** For the coordinator: about to start, but held instead (nothing runs to stop). */
  private holdInstead(name: string, why: 'group' | 'requires'): void {
    this.cancelTimer(name);
    const e = this.update(name, (x) => {
      x.held = why;
      x.desired = 'stopped';
      x.restartAt = null;
      x.restartPending = false;
      if (x.state === 'dead' || (x.state === 'starting' && !x.keeper)) x.state = 'stopped';
    });
    if (e) this.carryOut(e);
  }

  /** For the coordinator (and held entities): start now; resolves once it runs or its start failed. */
  private async startNow(name: string, restarting: boolean): Promise<void> {
    if (this.coord.stopping) return;
    const cur = this.store.entity(name);
    // Still stopping (a hold in progress): its stop finishes first, then holdStop decides.
    if (!cur || (cur.desired === 'stopped' && (cur.state === 'running' || cur.state === 'starting'))) return;
    if (cur.argv.length === 0 || cur.state === 'running' || cur.state === 'starting') {
      this.update(name, (x) => void (x.desired = 'running'));
      return;
    }
    if (!this.coord.requirementsUp(cur)) return this.holdInstead(name, 'requires');
    const t0 = Date.now();
    this.update(name, (x) => {
      x.desired = 'running';
      x.restartAt = null;
      x.held = null;
    });
    this.launch(name, restarting);
    await this.waitFor(name, (x) => !x || x.state === 'running' || (x.failedStartAt ?? 0) >= t0 || (x.state === 'dead' && (x.diedAt ?? 0) >= t0), RESTART_DEADLINE_MS);
  }

  /** A new keeper (the old one is gone or there was none) starts the command, or adopts `adoptPid`. */
  private spawnNew(name: string, restarting: boolean, adoptPid?: number): void {
    const e = this.update(name, (x) => {
      x.keeperSerial += 1;
      x.keeper = { pid: 0, start: 0, serial: x.keeperSerial, lastSeq: 0 };
      x.awaiting = null;
      if (adoptPid) {
        const id = procId(adoptPid);
        x.pid = adoptPid;
        x.pidStart = id?.start ?? null;
        x.state = 'running';
        if (x.startedAt === null) x.startedAt = Date.now();
      } else {
        x.state = 'starting';
        x.restarting = restarting;
      }
      x.held = null;
    });
    if (!e) return;
    const env = { ...this.baseEnv, ...e.env, HAM_ENTITY: e.name, HAM_INSTANCE: String(e.instance + 1) };
    const serial = e.keeper!.serial;
    // A keeper that dies before its first record never opened its life FIFO:
    // as its parent we see the exit instead.
    const early = (): void => {
      this.inbox.drain();
      const x = this.store.entity(name);
      if (x?.keeper?.serial === serial && x.keeper.lastSeq === 0) this.keeperGone(name, serial);
    };
    let keeper: ProcId;
    try {
      keeper = spawnKeeper(this.paths, { id: e.id, serial, name: e.name, argv: e.argv, env, cwd: e.cwd, adoptPid }, early);
    } catch (err) {
      this.log('error', 'keeper could not be started', { entity: name, error: (err as Error).message });
      this.update(name, (x) => {
        x.keeper = null;
        x.lastError = `keeper could not be started: ${(err as Error).message}`;
        if (adoptPid) return; // the orphan still runs: adopted again at the next resume
        x.failedStartAt = Date.now();
        x.state = 'dead';
      });
      return;
    }
    this.update(name, (x) => {
      if (x.keeper && x.keeper.serial === e.keeper!.serial && x.keeper.pid === 0) Object.assign(x.keeper, keeper);
    });
  }

  /** The keeper's life FIFO hit EOF: it exited or was killed. */
  private keeperGone(name: string, serial: number): void {
    if (this.lifeWatches.get(name)?.serial === serial) this.unwatch(name);
    this.inbox.drain(); // whatever it wrote before dying comes first
    const e = this.store.entity(name);
    if (e) removeKeeperDir(this.paths, e.id, serial);
    if (!e || !e.keeper || e.keeper.serial !== serial) return;
    const dismissed = e.awaiting !== null && !e.restartPending && (e.state === 'stopped' || e.state === 'dead' || e.state === 'failed');
    if (dismissed) {
      this.update(name, (x) => {
        x.keeper = null;
        x.awaiting = null;
      });
      return;
    }
    this.log('warn', 'keeper died', { entity: name, keeper: e.keeper.pid, state: e.state });
    const orphan = e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart });
    const fired = emptyFired();
    if (orphan && (e.state === 'running' || e.state === 'starting')) {
      if (e.state === 'starting') {
        // It had forked the command (P) but not reported the exec: the command runs.
        this.update(name, (x) => this.started(x, x.pid!, Date.now(), fired));
        this.publish(fired);
      }
      return this.spawnNew(name, false, e.pid!);
    }
    const after = this.update(name, (x) => {
      x.keeper = null;
      x.awaiting = null;
      if (x.state === 'running') {
        // Its process died with it and nobody saw the status.
        this.recordDeath(x, { code: null, signal: null, core: false }, x.pid, null, Date.now(), fired);
      } else if (x.state === 'starting') {
        // It died before the command ran: this start failed.
        x.state = 'dead';
        x.restarting = false;
        x.pid = null;
        x.pidStart = null;
        x.lastError = 'its keeper died before the command started';
        x.failedStartAt = Date.now();
      }
    });
    this.publish(fired);
    if (after && after.state === 'dead' && after.restartAt !== null) this.scheduleRestart(after);
    this.coord.onSettled(name);
    this.coord.onDown(name);
  }

  // ---- resume -------------------------------------------------------------

  private reconcile(e: EntityRecord, fresh: boolean): void {
    if (e.kind === 'placeholder' || e.kind === 'global') return;
    if (e.kind === 'self' && e.desired === 'stopped') e = this.update(e.name, (x) => void (x.desired = 'running')) ?? e; // not ours to stop or start
    if (!fresh && e.held && e.state === 'stopped') {
      // Held by a group restart or a requirement when the previous HAM died: bring it back when it may.
      if (e.keeper && isAlive(e.keeper)) this.carryOut(e); // its keeper may never have been let go
      if (e.held === 'requires' ? this.coord.requirementsUp(e) : !this.coord.waitsForGroup(e)) void this.startNow(e.name, e.instance > 0);
      return;
    }
    if (fresh && e.desired === 'stopped') {
      // `ham stop --all` stopped it; this `ham start` brings it back.
      const alive = e.state === 'running' || e.state === 'starting';
      e = this.update(e.name, (x) => void (x.desired = 'running')) ?? e;
      if (!alive && e.argv.length > 0) {
        if (e.keeper && e.awaiting !== null) commandKeeper(this.paths, e.id, e.keeper.serial, 'x', e.awaiting);
        if (e.keeper) removeKeeperDir(this.paths, e.id, e.keeper.serial);
        this.update(e.name, (x) => {
          x.keeper = null;
          x.awaiting = null;
        });
        return this.spawnSoon(e.name);
      }
    }
    if (e.keeper && e.keeper.pid === 0) {
      // Killed between spawning a keeper and recording its pid: find it by its folder.
      const dir = keeperDir(this.paths, e.id, e.keeper.serial);
      const pid = findProcesses((argv) => argv.includes(dir))[0];
      const id = pid === undefined ? undefined : procId(pid);
      if (!id && e.state === 'starting' && e.desired === 'running') {
        // Never spawned (the HAM died first): just start it now.
        this.update(e.name, (x) => void (x.keeper = null));
        return this.spawnSoon(e.name);
      }
      e = this.update(e.name, (x) => void (x.keeper && id && Object.assign(x.keeper, id))) ?? e;
    }
    if (e.keeper && !isAlive(e.keeper)) return this.keeperGone(e.name, e.keeper.serial);
    if (e.keeper) {
      if (e.keeper.lastSeq >= 1) this.watch(e);
      if (e.state === 'starting' && e.restarting && e.awaiting !== null) {
        commandKeeper(this.paths, e.id, e.keeper.serial, 'r', e.awaiting); // may have been lost
      } else if (e.state === 'dead' && e.restartAt !== null) {
        this.scheduleRestart(e);
      } else {
        this.carryOut(e);
      }
      return;
    }
    if (e.desired === 'running' && (e.state === 'running' || e.state === 'starting')) {
      if (e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart })) return this.spawnSoon(e.name, e.pid);
      if (e.argv.length > 0) return this.spawnSoon(e.name);
    }
    if (e.state === 'dead' && e.restartAt !== null) this.scheduleRestart(e);
  }

  // ---- helpers ------------------------------------------------------------

  private async stopOne(name: string): Promise<void> {
    const cur = this.store.entity(name);
    // Only what runs (or is about to restart) is stopped; the next start brings back exactly that.
    if (!cur || !(cur.state === 'running' || cur.state === 'starting' || cur.restartPending)) return;
    const e = this.update(name, (x) => {
      x.desired = 'stopped';
      x.restartAt = null;
      x.restartPending = false;
      if (x.state === 'dead') x.state = 'stopped';
    });
    if (!e) return;
    this.cancelTimer(name);
    if (e.state === 'stopped') return this.carryOut(e);
    const gone = (x: EntityRecord | undefined): boolean => !x || x.state === 'stopped';
    // Its stop signal to the process (it may stop its children itself), then SIGKILL of the whole group.
    this.signalGroup(e, e.stopPolicy.signal as NodeJS.Signals);
    if (await this.waitFor(name, gone, e.stopPolicy.timeoutMs).then(gone)) return;
    const now = this.store.entity(name);
    // Only the process we asked to stop, and only if it is still meant to stop.
    if (now && now.desired === 'stopped' && now.pid === e.pid) this.signalGroup(now, 'SIGKILL');
    await this.waitFor(name, gone, KILL_GRACE_MS);
  }

  private signalGroup(e: EntityRecord, sig: NodeJS.Signals): void {
    if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) return;
    try {
      process.kill(e.kind === 'spawned' ? -e.pid : e.pid, sig);
    } catch {
      try {
        process.kill(e.pid, sig);
      } catch {
        /* gone */
      }
    }
  }

  /** Resolve with the entity once `ok` holds for it (or at the deadline). */
  waitFor(name: string, ok: (e: EntityRecord | undefined) => boolean, timeoutMs: number): Promise<EntityRecord | undefined> {
    return new Promise((resolve) => {
      const check = (n?: string): void => {
        if (n !== undefined && n !== name) return;
        const e = this.store.entity(name);
        if (!ok(e)) return;
        finish(e);
      };
      const finish = (e: EntityRecord | undefined): void => {
        clearTimeout(timer);
        this.events.off('change', check);
        resolve(e);
      };
      const timer = setTimeout(() => finish(this.store.entity(name)), timeoutMs);
      this.events.on('change', check);
      check();
    });
  }

  private watch(e: EntityRecord): void {
    if (!e.keeper) return;
    const serial = e.keeper.serial;
    const have = this.lifeWatches.get(e.name);
    if (have?.serial === serial) return;
    have?.dispose(); // an older keeper's watch: the new keeper replaces it
    const dispose = watchLife(this.paths, e.id, serial, () => {
      if (this.lifeWatches.get(e.name)?.serial === serial) this.lifeWatches.delete(e.name);
      this.keeperGone(e.name, serial);
    });
    this.lifeWatches.set(e.name, { serial, dispose });
  }

  private unwatch(name: string): void {
    this.lifeWatches.get(name)?.dispose();
    this.lifeWatches.delete(name);
  }

  private cancelTimer(name: string): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  /** Read-modify-write one entity in a fenced transaction; emits `change`. */
  private update(name: string, fn: (x: EntityRecord) => void, point?: string): EntityRecord | undefined {
    const e = this.write(() => {
      const x = this.store.entity(name);
      if (!x) return undefined;
      fn(x);
      this.store.putEntity(x);
      if (point) failpoint(point); // crash tests: die after writing, before commit
      return x;
    });
    if (e) this.events.emit('change', name);
    return e;
  }

  /** A write transaction fenced by this HAM's epoch (exits the process if it lost the role). */
  write<T>(fn: () => T): T {
    try {
      return this.store.fenced(this.epoch, fn);
    } catch (e) {
      // Another process holds the HAM role now: acting further would duplicate it.
      if (e instanceof HamError && e.code === 'fenced') this.onFenced(e);
      throw e;
    }
  }
}

/** The entity's process is gone: its keeper (if any) waits on death record `seq`. */
function processGone(x: EntityRecord, seq: number | null): void {
  // A joined client's heartbeat and health check were this process's: its next instance attaches anew.
  if (x.kind !== 'self') x.heartbeat = null;
  x.health = null;
  x.healthFailing = null;
  x.pid = null;
  x.pidStart = null;
  x.awaiting = seq;
  x.restarting = false;
  x.restartAt = null;
}
