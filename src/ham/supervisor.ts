// The entity state machine. Keepers report (inbox records, life-FIFO EOF);
// the supervisor applies each report to the store in one fenced transaction
// (with the event it fires and the action runs it starts) and only then acts
// (answers the keeper, signals, spawns). Because every decision is in the
// store before it is carried out, a new HAM that takes over re-derives the
// same next step, and the keepers' sequence numbers make a repeated command
// harmless: nothing is lost, duplicated or restarted twice.
//
// This file is the supervisor's face (the requests, resume, close); each
// concern is a part in its own file (supervisor-core.ts lists them).
import type { Socket } from 'node:net';
import { HamError } from '../errors.js';
import { commandKeeper, removeKeeperDir } from '../keeper/link.js';
import { isAlive, procId } from '../proc/procfs.js';
import type { ActionSpec, Occurrence } from '../model/conditions.js';
import { GLOBAL, type EntityRecord } from '../model/records.js';
import { makeRunAction } from './actions.js';
import { commitApplyPlan } from './apply-commit.js';
import { Coordinator } from './coordinator.js';
import { Dispatcher, emptyFired, type Fired } from './dispatch.js';
import { blankEntity, createGlobal, fillPlaceholder, type NewEntity } from './entity-records.js';
import { Executor } from './executor.js';
import { HealthKills } from './health-kills.js';
import { HealthChecker } from './health.js';
import { HeartbeatMonitor } from './heartbeats.js';
import { Holds } from './holds.js';
import { KeeperRecords } from './keeper-records.js';
import { OccurrenceBatch } from './occurrence-batch.js';
import { Orders } from './orders.js';
import { Readiness } from './readiness.js';
import { reconcile } from './reconcile.js';
import { Restarts } from './restarts.js';
import { SelfAttachments, type SelfAttach } from './self-attach.js';
import { Spawner } from './spawning.js';
import type { LiveBeat } from './status.js';
import { Stops } from './stops.js';
import { ByName } from './by-name.js';
import { SupervisorCore, type SupervisorOptions } from './supervisor-core.js';
import { Transitions } from './transitions.js';
import type { GroupSpec } from '../model/records.js';
import { awaitingOf, processRuns, unreadyOf } from './lifecycle.js';
import { REATTACH_GRACE_MS } from '../model/defaults.js';

export { blankEntity, type NewEntity } from './entity-records.js';
export type { SupervisorOptions } from './supervisor-core.js';

const FIRST_START_WAIT_MS = 5000;

export class Supervisor {
  private readonly core: SupervisorCore;
  private readonly executor: Executor;
  private readonly heartbeats: HeartbeatMonitor;
  private readonly health: HealthChecker;
  private readonly coord: Coordinator;
  private readonly orders: Orders;

  constructor(o: SupervisorOptions) {
    const core = new SupervisorCore(o);
    this.core = core;
    core.parts = {
      keepers: new KeeperRecords(core),
      restarts: new Restarts(core),
      spawner: new Spawner(core),
      holds: new Holds(core),
      selves: new SelfAttachments(core, (name) => this.detach(name)),
      healthKills: new HealthKills(core),
      occurrences: new OccurrenceBatch(core),
      stops: new Stops(core),
      transitions: new Transitions(core),
      readiness: new Readiness(core),
    };
    const { parts } = core;
    const write = <T>(fn: () => T): T => core.write(fn);
    this.executor = new Executor({
      store: core.store,
      log: core.log,
      write,
      runAction: makeRunAction({
        store: core.store,
        paths: core.paths,
        log: core.log,
        baseEnv: core.baseEnv,
        write,
        restart: (run) => parts.restarts.forRun(run),
        notify: (run, message) =>
          core.publish({ ...emptyFired(), events: [write(() => dispatcher.notifyEvent({ seq: run.seq, entity: run.target }, message))] }),
        heartbeatHealthy: (name) => parts.healthKills.heartbeatHealthy(name),
      }),
      onDone: (run) => core.events.emit('run-done', run),
    });
    const dispatcher = new Dispatcher(
      core.store,
      (t) => this.executor.busy(t),
      (t) => this.executor.load(t),
    );
    this.heartbeats = new HeartbeatMonitor((name, level) => {
      this.occur({ entity: name, type: level === 'low' ? 'heartbeat-missed-low' : 'heartbeat-missed-high' }).catch(() => undefined);
    });
    this.coord = new Coordinator(
      {
        entity: (n) => core.store.entity(n),
        all: () => core.store.allEntities(),
        groups: () => core.store.groups(),
        holdStop: (n, why) => parts.holds.holdStop(n, why),
        startNow: (n, restarting) => parts.holds.startNow(n, restarting),
        holdInstead: (n, why) => parts.holds.holdInstead(n, why),
      },
      core.log,
    );
    this.health = new HealthChecker(
      (name, call) => parts.selves.sendHealthCheck(name, call),
      (name, reason) => parts.healthKills.failed(name, reason),
    );
    core.with = { dispatcher, executor: this.executor, heartbeats: this.heartbeats, health: this.health, coord: this.coord };
    // Standing orders follow every change, before its effects (orders.ts).
    this.orders = new Orders(core);
    core.events.on('change', (name: string) => this.orders.review(name));
    // After the executor lets go of the entity (it is busy until then).
    core.events.on('run-done', (run: { target: string }) => void setImmediate(() => this.orders.review(run.target)));
  }

  /** Fires `change` with the entity name after every applied transition, `run-done` after each action list. */
  get events(): SupervisorCore['events'] {
    return this.core.events;
  }

  /**
   * Resume every entity from the store. `fresh` is a `ham start` (entities a
   * `stop --all` stopped are started again), otherwise a takeover.
   */
  /** `tick`: called often while it works (synchronously: seconds for many entities), to beat through the store. */
  resume(fresh: boolean, tick: () => void = () => undefined): void {
    const { store, names, parts } = this.core;
    for (const e of store.allEntities(tick)) names.set(e.id, e.name);
    // Runs left by the previous HAM first: the inbox and reconcile below may fire
    // new runs, which must neither be started twice nor overtake the old ones.
    this.executor.resumeAll();
    tick();
    parts.keepers.start();
    tick();
    this.orders.revokeStopping(tick); // before reconcile signals them again
    for (const e of store.allEntities(tick)) {
      reconcile(this.core, e, fresh);
      tick();
    }
    // Still starting when the previous HAM died: probed again with the same deadline (one already ready is not).
    for (const e of store.allEntities(tick)) if (unreadyOf(e.life)) parts.readiness.track(e);
    for (const e of store.allEntities(tick)) parts.readiness.keeper.read(e, true); // what keepers said meanwhile (notify, fd)
    // Self-attached entities get a fresh window plus a grace for their clients to
    // reconnect: a takeover, or a stop and start of the pair, is not silence.
    const grace = REATTACH_GRACE_MS;
    for (const e of store.allEntities(tick)) {
      if (!processRuns(e.life)) continue;
      if (e.heartbeat) this.heartbeats.track(e.name, e.heartbeat, e.heartbeatState, performance.now() + grace);
      if (e.healthFailing) parts.healthKills.schedule(e.name, e.healthFailing.killAt);
      else if (e.health) this.health.track(e.name, e.health, e.health.intervalMs + grace);
    }
    this.orders.reviewAll(true, tick); // every keeper's order renewed or revoked: none outlives its epoch
    this.byName.rolls.resumeAll(fresh); // a `restart --group` the previous HAM was in the middle of
  }

  close(): void {
    const { parts } = this.core;
    // `ham stop` closes every client connection next: that is not their deaths.
    parts.selves.close();
    this.heartbeats.close();
    this.health.close();
    parts.healthKills.close();
    this.executor.close();
    parts.keepers.close();
    parts.spawner.close();
    parts.restarts.close();
    parts.readiness.close();
    this.orders.revokeAll();
  }

  // ---- requests -----------------------------------------------------------

  /** Attach a new entity, or fill a placeholder of the same name. */
  async attach(n: NewEntity): Promise<EntityRecord> {
    const { store } = this.core;
    if (n.pid !== undefined && !procId(n.pid))
      throw new HamError({ code: 'bad-request', entity: n.name, message: `attach.pid: expected a running process, got ${n.pid} (no such process)` });
    const fired: Fired = emptyFired();
    const e = this.core.write(() => {
      const old = store.entity(n.name);
      if (old && !(old.kind === 'placeholder' && n.kind !== 'placeholder')) {
        throw new HamError({ code: 'duplicate-entity', entity: n.name, message: `an entity named ${JSON.stringify(n.name)} is already attached` });
      }
      const rec = old
        ? fillPlaceholder(old, { ...n, conditions: [...old.conditions, ...n.conditions.filter((c) => !old.conditions.some((o) => o.name === c.name))] })
        : blankEntity(n, store.nextId());
      // It starts next: the table's attach (its conditions' attach fires with it); its keeper below.
      if (n.kind !== 'placeholder') this.core.parts.transitions.stepIn(rec, { tag: 'attach' }, { pid: n.pid ?? null }, fired);
      store.putEntity(rec);
      return rec;
    });
    this.core.names.set(e.id, e.name);
    this.core.publish(fired);
    if (n.kind === 'placeholder') return e;
    const started = this.core.waitFor(
      e.name,
      (x) => x === undefined || x.instance > 0 || x.lastError !== null || (x.kind === 'pid' && x.keeper !== null && x.keeper.lastSeq > 0),
      FIRST_START_WAIT_MS,
    );
    this.core.parts.spawner.spawnNew(e.name, false, n.pid);
    const after = await started;
    if (after?.lastError && after.instance === 0 && after.kind === 'spawned') {
      // It never ran: leave nothing behind, so the user can fix the command and attach again.
      this.forget(after);
      throw new HamError({ code: 'spawn-failed', entity: n.name, message: after.lastError, ...(after.lastFailure ? { failure: after.lastFailure } : {}) });
    }
    return after ?? e;
  }

  /** Remove an entity that never ran (its keeper, if any, is told to exit). */
  private forget(e: EntityRecord): void {
    const { paths, parts } = this.core;
    parts.keepers.unwatch(e.name);
    parts.restarts.cancel(e.name);
    const seq = awaitingOf(e.life);
    if (e.keeper && seq !== null) commandKeeper(paths, e.id, e.keeper.serial, 'x', seq);
    this.core.write(() => this.core.store.removeEntity(e.name));
    if (e.keeper) removeKeeperDir(paths, e.id, e.keeper.serial);
    this.core.names.delete(e.id);
    this.core.events.emit('change', e.name);
  }

  /** `ham apply`: create and update entities in one transaction, then start the new ones. */
  commitPlan(
    creates: NewEntity[],
    updates: { name: string; fn: (x: EntityRecord) => void }[],
    groups?: Record<string, GroupSpec>,
    staleKeepers: string[] = [],
  ): Promise<void> {
    this.orders.revoke(staleKeepers); // before the commit: a death after it must not restart the old definition
    return commitApplyPlan(this.core, this.coord, creates, updates, groups).then(() => this.orders.reviewAll(false));
  }

  detach(name: string): void {
    const { store, parts } = this.core;
    const e = this.core.mustGet(name);
    if (name === GLOBAL) throw new HamError({ code: 'bad-request', entity: name, message: 'the global entity * cannot be detached' });
    parts.selves.forget(name);
    parts.keepers.unwatch(name); // first: its keeper's exit is not a death
    // The table's detach (in every state): detach fired and the record removed in one transaction, then its effects.
    const fired = emptyFired();
    const done = this.core.write(() => {
      const rec = store.entity(name);
      const step = rec ? parts.transitions.stepIn(rec, { tag: 'detach' }, { pid: rec.pid }, fired) : null;
      store.removeEntity(name);
      return rec && step ? { rec, step } : undefined;
    });
    this.core.publish(fired);
    if (done) parts.transitions.perform(done.rec, done.step.effects);
    const alive = e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart });
    this.core.log('info', alive ? 'entity detached; its process keeps running' : 'entity detached; it had no process', { entity: name, pid: e.pid });
    this.core.events.emit('change', name);
  }

  /** The cluster runtime's grant of a placed entity's keeper start (spawning.ts): none, none starts. */
  set placedFence(fn: ((e: EntityRecord) => number | undefined) | undefined) {
    this.core.parts.spawner.placedFence = fn;
  }

  /** Graceful stop of every entity: its stop signal, then KILL of its group. */
  stopAll(): Promise<void> {
    return this.core.parts.stops.stopAll();
  }

  /** `ham stop|start|restart|reload NAME`, `ham restart --group G` (by-name.ts). */
  get byName(): ByName {
    return (this.byNameRequests ??= new ByName(this.core));
  }
  private byNameRequests: ByName | undefined;

  /** `ham reset NAME`: a failed (or dead) entity gets fresh counters and is started again. */
  reset(name: string): EntityRecord {
    return this.core.parts.restarts.reset(name);
  }

  all(): EntityRecord[] {
    return this.core.store.allEntities();
  }

  groups(): Record<string, GroupSpec> {
    return this.core.store.groups();
  }

  get(name: string): EntityRecord | undefined {
    return this.core.store.entity(name);
  }

  mustGet(name: string): EntityRecord {
    return this.core.mustGet(name);
  }

  /** The global entity `*`, created on first use (its conditions match every entity). */
  createGlobal(): EntityRecord {
    return createGlobal(this.core);
  }

  /**
   * Record an occurrence reported from outside (raise, state). Occurrences
   * arriving in the same turn share one transaction; resolves with the seq.
   */
  occur(o: Occurrence): Promise<number> {
    return this.core.parts.occurrences.occur(o);
  }

  /** A write transaction fenced by this HAM's epoch (exits the process if it lost the role). */
  write<T>(fn: () => T): T {
    return this.core.write(fn);
  }

  /**
   * Read-modify-write one entity in a fenced transaction (for management
   * requests); `runNow` starts a condition's `now` actions in the same
   * transaction. Throws unknown-entity if it is not there.
   */
  updateEntity(name: string, fn: (rec: EntityRecord, runNow: (condition: string, actions: ActionSpec[]) => void) => void): EntityRecord {
    const fired = emptyFired();
    const e = this.core.updateEntity(name, (rec) => fn(rec, (condition, actions) => void this.core.with.dispatcher.runNow(rec, condition, actions, fired)));
    this.core.publish(fired);
    return e;
  }

  // ---- self-attached entities ----------------------------------------------

  attachSelf(conn: Socket, a: SelfAttach): EntityRecord {
    return this.core.parts.selves.attach(conn, a);
  }

  /** A beat from the connection that attached `name`; false if it did not. */
  beat(conn: Socket, name: string): boolean {
    return this.core.parts.selves.beat(conn, name);
  }

  /** Detach by the client itself: fires detach; the entity is removed. */
  detachSelf(conn: Socket, name: string): void {
    this.core.parts.selves.detach(conn, name);
  }

  /** The client's answer to a health-check call, from the connection that owns `name`. */
  healthReply(conn: Socket, name: string, call: number, healthy: boolean, message?: string): void {
    this.core.parts.selves.healthReply(conn, name, call, healthy, message);
  }

  /** Instance `instance` of `name` is ready (`text`: what answered); false for a late or stale answer (readiness.ts). */
  markReady(name: string, instance: number, text: string): boolean {
    return this.core.parts.readiness.markReady(name, instance, text);
  }

  // ---- figures for `status` and `stats` --------------------------------------

  /** What the heartbeat monitor knows now about `name` (for the status view). */
  heartbeatView(name: string): LiveBeat {
    return this.heartbeats.view(name);
  }

  /** How long actions took, by kind (for /metrics). */
  actionDurations(): ReturnType<Executor['durations']['snapshot']> {
    return this.executor.durations.snapshot();
  }

  /** The supervisor's figures for `ham stats`; `reset` clears the latency histograms after reading them. */
  figures(reset: boolean): {
    firstActionLatencyMs: ReturnType<Executor['latency']['summary']>;
    heartbeatLatenessMs: ReturnType<HeartbeatMonitor['lateness']['summary']>;
    beats: number;
    healthChecks: { passed: number; failed: number };
    inbox: { sweeps: number; sweepPending: boolean };
  } {
    const out = {
      firstActionLatencyMs: this.executor.latency.summary(),
      heartbeatLatenessMs: this.heartbeats.lateness.summary(),
      beats: this.heartbeats.beats,
      healthChecks: { passed: this.health.passed, failed: this.health.failed },
      inbox: this.core.parts.keepers.inboxFigures(),
    };
    if (reset) {
      this.executor.latency.clear();
      this.heartbeats.lateness.clear();
    }
    return out;
  }
}
