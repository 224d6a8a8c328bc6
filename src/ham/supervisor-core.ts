// What every part of the supervisor shares: the store and its fenced write
// transactions, one-entity updates that announce a change, publishing what a
// transaction fired, waiting for an entity to reach a condition, and the
// parts themselves (each in its own file, reached through `parts`).
import { EventEmitter } from 'node:events';
import { HamError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { HomePaths } from '../home.js';
import type { Logger } from '../log.js';
import { isAlive } from '../proc/procfs.js';
import type { Store } from '../store/store.js';
import type { EntityRecord } from '../model/records.js';
import type { Coordinator } from './coordinator.js';
import { logFired, type Dispatcher, type Fired } from './dispatch.js';
import type { EventHub } from './events.js';
import type { Executor } from './executor.js';
import type { HealthKills } from './health-kills.js';
import type { HealthChecker } from './health.js';
import type { HeartbeatMonitor } from './heartbeats.js';
import type { Holds } from './holds.js';
import type { KeeperRecords } from './keeper-records.js';
import type { OccurrenceBatch } from './occurrence-batch.js';
import type { Readiness } from './readiness.js';
import type { Restarts } from './restarts.js';
import type { SelfAttachments } from './self-attach.js';
import type { Spawner } from './spawning.js';
import type { Stops } from './stops.js';
import type { Transitions } from './transitions.js';

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

/** The parts of the supervisor, each holding one concern. */
export interface Parts {
  keepers: KeeperRecords;
  restarts: Restarts;
  spawner: Spawner;
  holds: Holds;
  selves: SelfAttachments;
  healthKills: HealthKills;
  occurrences: OccurrenceBatch;
  stops: Stops;
  transitions: Transitions;
  readiness: Readiness;
}

/** The collaborators the parts share (set once by the Supervisor's constructor). */
export interface Collaborators {
  dispatcher: Dispatcher;
  executor: Executor;
  heartbeats: HeartbeatMonitor;
  health: HealthChecker;
  coord: Coordinator;
}

export const unknownEntity = (name: string): HamError =>
  new HamError({ code: 'unknown-entity', entity: name, message: `no entity named ${JSON.stringify(name)}` });

export class SupervisorCore {
  readonly store: Store;
  readonly epoch: number;
  readonly paths: HomePaths;
  readonly log: Logger;
  readonly hub: EventHub;
  readonly baseEnv: Record<string, string>;
  private readonly onFenced: (e: HamError) => never;
  /** Entity names by id (keeper records name the id). */
  readonly names = new Map<number, string>();
  /** Fires `change` with the entity name after every applied transition. */
  readonly events = new EventEmitter();
  parts!: Parts;
  with!: Collaborators;

  constructor(o: SupervisorOptions) {
    this.store = o.store;
    this.epoch = o.epoch;
    this.paths = o.paths;
    this.log = o.log;
    this.hub = o.hub;
    this.baseEnv = o.baseEnv;
    this.onFenced = o.onFenced;
    this.events.setMaxListeners(0);
  }

  mustGet(name: string): EntityRecord {
    const e = this.store.entity(name);
    if (!e) throw unknownEntity(name);
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

  /** Read-modify-write one entity in a fenced transaction; emits `change`. Undefined if it is gone. */
  updateIfPresent(name: string, fn: (rec: EntityRecord) => void, point?: string): EntityRecord | undefined {
    const e = this.write(() => {
      const rec = this.store.entity(name);
      if (!rec) return undefined;
      fn(rec);
      this.store.putEntity(rec);
      if (point) failpoint(point); // crash tests: die after writing, before commit
      return rec;
    });
    if (e) this.events.emit('change', name);
    return e;
  }

  /** As updateIfPresent, for requests: an entity that is not there is the caller's error. */
  updateEntity(name: string, fn: (rec: EntityRecord) => void): EntityRecord {
    const e = this.updateIfPresent(name, fn);
    if (!e) throw unknownEntity(name);
    return e;
  }

  /** After a commit: push events, write inline logs, start runs. */
  publish(f: Fired): void {
    for (const name of f.healthy ?? []) this.with.heartbeats.reset(name);
    this.hub.publish(f.events);
    logFired(this.log, f);
    this.with.executor.start(f.runs, f.seenAt);
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

  /** A signal to the entity's process group (spawned: it leads one), else to its process. */
  signalGroup(e: EntityRecord, sig: NodeJS.Signals): void {
    if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) return;
    const group = e.kind === 'spawned' && e.mainGroup?.instance === e.instance ? e.mainGroup.pgid : null;
    if (group !== null && group !== e.pid) {
      // MAINPID= named another process: its command's group and that process (it may have left the group).
      for (const target of [-group, e.pid])
        try {
          process.kill(target, sig);
        } catch {
          /* gone */
        }
      return;
    }
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
}
