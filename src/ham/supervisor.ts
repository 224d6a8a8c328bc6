// The entity state machine. Keepers report (inbox records, life-FIFO EOF);
// the supervisor applies each report to the store in one fenced transaction
// and only then acts (answers the keeper, signals, spawns). Because every
// decision is in the store before it is carried out, a new HAM that takes
// over re-derives the same next step and the keepers' sequence numbers make
// a repeated command harmless: nothing is lost, duplicated or restarted twice.
import { EventEmitter } from 'node:events';
import { HamError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { HomePaths } from '../home.js';
import { Inbox, type InboxItem, type KeeperRecord, type Verdict } from '../keeper/inbox.js';
import { commandKeeper, decodeWaitStatus, detachKeeper, keeperDir, removeKeeperDir, spawnKeeper, watchLife } from '../keeper/link.js';
import type { Logger } from '../log.js';
import { errnoName } from '../proc/names.js';
import { findProcesses, isAlive, procId, type ProcId } from '../proc/procfs.js';
import type { RequestArgs } from '../protocol/requests.js';
import type { Store } from '../store/store.js';
import type { EntityRecord } from '../store/types.js';
import { nextBackoff } from './backoff.js';
import { checkExecutable } from './executable.js';

export interface SupervisorOptions {
  store: Store;
  epoch: number;
  paths: HomePaths;
  log: Logger;
  /** The environment entities inherit (the daemon's, as `ham start` saw it). */
  baseEnv: Record<string, string>;
  /** Called when a write finds the epoch moved on: this process is no longer the HAM. */
  onFenced: (e: HamError) => never;
}

const STOP_GRACE_MS = 5000;
const KILL_GRACE_MS = 2000;
const FIRST_START_WAIT_MS = 5000;

export class Supervisor {
  private readonly store: Store;
  private readonly epoch: number;
  private readonly paths: HomePaths;
  private readonly log: Logger;
  private readonly baseEnv: Record<string, string>;
  private readonly onFenced: (e: HamError) => never;
  private readonly inbox: Inbox;
  private readonly names = new Map<number, string>();
  private readonly lifeWatches = new Map<string, () => void>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Fires `change` with the entity name after every applied transition. */
  readonly events = new EventEmitter();

  constructor(o: SupervisorOptions) {
    this.store = o.store;
    this.epoch = o.epoch;
    this.paths = o.paths;
    this.log = o.log;
    this.baseEnv = o.baseEnv;
    this.onFenced = o.onFenced;
    this.events.setMaxListeners(0);
    this.inbox = new Inbox(this.paths.inbox, (item) => this.onItem(item));
  }

  /**
   * Resume every entity from the store. `fresh` is a `ham start` (entities a
   * `stop --all` stopped are started again), otherwise a takeover.
   */
  resume(fresh: boolean): void {
    for (const e of this.store.allEntities()) this.names.set(e.id, e.name);
    this.inbox.start();
    for (const e of this.store.allEntities()) this.reconcile(e, fresh);
  }

  close(): void {
    this.inbox.close();
    for (const dispose of this.lifeWatches.values()) dispose();
    for (const t of this.timers.values()) clearTimeout(t);
    this.lifeWatches.clear();
    this.timers.clear();
  }

  // ---- requests -----------------------------------------------------------

  async attach(a: RequestArgs<'attach'>): Promise<EntityRecord> {
    const cwd = a.cwd ?? process.cwd();
    const env = { ...this.baseEnv, ...a.env };
    checkExecutable(a.name, a.argv[0]!, cwd, env.PATH);
    const e = this.write(() => {
      if (this.store.entity(a.name)) throw new HamError({ code: 'duplicate-entity', entity: a.name, message: `an entity named ${JSON.stringify(a.name)} is already attached` });
      const rec: EntityRecord = {
        id: this.store.nextId(),
        name: a.name,
        kind: 'spawned',
        argv: a.argv,
        env: a.env,
        cwd,
        restart: a.restart,
        desired: 'running',
        state: 'starting',
        pid: null,
        pidStart: null,
        keeper: null,
        keeperSerial: 0,
        awaiting: null,
        restarting: false,
        restartAt: null,
        backoffMs: 0,
        instance: 0,
        restarts: 0,
        deaths: 0,
        lastExit: null,
        lastError: null,
        startedAt: null,
        diedAt: null,
        createdAt: Date.now(),
      };
      this.store.putEntity(rec);
      return rec;
    });
    this.names.set(e.id, e.name);
    const started = this.waitFor(e.name, (x) => x === undefined || x.instance > 0 || x.lastError !== null, FIRST_START_WAIT_MS);
    this.spawnNew(e.name, false);
    const after = await started;
    if (after?.lastError && after.instance === 0) {
      throw new HamError({ code: 'spawn-failed', entity: a.name, message: after.lastError });
    }
    return after ?? e;
  }

  detach(name: string): void {
    const e = this.mustGet(name);
    this.unwatch(name);
    this.cancelTimer(name);
    if (e.keeper && isAlive(e.keeper)) detachKeeper(e.keeper);
    this.write(() => this.store.removeEntity(name));
    if (e.keeper) removeKeeperDir(this.paths, e.id, e.keeper.serial);
    this.names.delete(e.id);
    this.log('info', 'entity detached; its process keeps running', { entity: name, pid: e.pid });
    this.events.emit('change', name);
  }

  /** Graceful stop of every entity: TERM to its group, then KILL. */
  async stopAll(): Promise<void> {
    const names = this.store.allEntities().map((e) => e.name);
    await Promise.all(names.map((n) => this.stopOne(n)));
  }

  get(name: string): EntityRecord | undefined {
    return this.store.entity(name);
  }

  mustGet(name: string): EntityRecord {
    const e = this.store.entity(name);
    if (!e) throw new HamError({ code: 'unknown-entity', entity: name, message: `no entity named ${JSON.stringify(name)}` });
    return e;
  }

  // ---- keeper reports -----------------------------------------------------

  private onItem(item: InboxItem): Verdict {
    const name = this.names.get(item.id);
    const e = name === undefined ? undefined : this.store.entity(name);
    if (!e || !e.keeper || e.keeper.serial !== item.serial || item.seq <= e.keeper.lastSeq) return 'done';
    if (item.seq !== e.keeper.lastSeq + 1) return 'later';
    if (!item.record) {
      this.log('warn', 'unreadable keeper record skipped', { entity: e.name, file: item.file });
      this.update(e.name, (x) => void (x.keeper!.lastSeq = item.seq));
      return 'done';
    }
    this.apply(e.name, item.seq, item.record);
    return 'done';
  }

  private apply(name: string, seq: number, r: KeeperRecord): void {
    const now = Date.now();
    const e = this.update(name, (x) => {
      const k = x.keeper!;
      k.lastSeq = seq;
      switch (r.kind) {
        case 'K':
          if (k.pid === 0) Object.assign(k, procId(r.pid) ?? { pid: r.pid, start: 0 });
          break;
        case 'S': {
          const id = procId(r.pid);
          x.pid = r.pid;
          x.pidStart = id?.start ?? null;
          x.state = 'running';
          x.instance += 1;
          if (x.restarting) x.restarts += 1;
          x.restarting = false;
          x.awaiting = null;
          x.restartAt = null;
          x.lastError = null;
          x.startedAt = now;
          break;
        }
        case 'F':
        case 'X': {
          const uptime = x.startedAt !== null && x.state === 'running' ? now - x.startedAt : null;
          if (r.kind === 'X') {
            const st = decodeWaitStatus(r.status);
            x.lastExit = { code: st.code, signal: st.signal };
            if (x.desired === 'running') x.deaths += 1; // a stop we asked for is not a death
          } else {
            x.lastExit = null;
            x.lastError = `cannot execute ${JSON.stringify(x.argv[0])}: ${errnoName(r.errno)}`;
          }
          x.pid = null;
          x.pidStart = null;
          x.diedAt = now;
          x.awaiting = seq;
          this.decide(x, uptime, now);
          break;
        }
      }
    }, `apply-${r.kind}:${name}`);
    if (!e) return;
    this.log('info', `keeper record ${r.kind}`, { entity: name, seq, record: r, state: e.state, lastExit: e.lastExit });
    if (r.kind === 'K') this.watch(e);
    if (r.kind === 'S' && e.desired === 'stopped') this.signalGroup(e, 'SIGTERM');
    if (r.kind === 'F' || r.kind === 'X') this.carryOut(e);
  }

  /** Decide, inside the transaction that recorded a death, what comes next. */
  private decide(x: EntityRecord, uptime: number | null, now: number): void {
    x.restarting = false;
    if (x.desired === 'stopped') {
      x.state = 'stopped';
    } else if (x.restart) {
      const b = nextBackoff(x.backoffMs, uptime);
      x.backoffMs = b.nextBackoffMs;
      x.restartAt = now + b.delayMs;
      x.state = 'dead';
    } else {
      x.state = 'dead';
    }
  }

  /** Carry out the decision recorded in the store (also after a takeover). */
  private carryOut(e: EntityRecord): void {
    if (e.desired === 'running' && e.restart && e.restartAt !== null && (e.state === 'dead' || e.state === 'starting')) {
      this.scheduleRestart(e);
    } else if (e.awaiting !== null && e.keeper && (e.state === 'dead' || e.state === 'stopped')) {
      // No restart: let the keeper go; its life EOF then clears the reference.
      if (!commandKeeper(this.paths, e.id, e.keeper.serial, 'x', e.awaiting)) this.keeperGone(e.name, e.keeper.serial);
    }
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
    if (!e || e.desired !== 'running' || e.restartAt === null) return;
    if (e.keeper && e.awaiting !== null && isAlive(e.keeper)) {
      const seq = e.awaiting;
      const serial = e.keeper.serial;
      this.update(name, (x) => {
        x.state = 'starting';
        x.restarting = true;
      });
      if (commandKeeper(this.paths, e.id, serial, 'r', seq)) return;
    }
    this.spawnNew(name, true);
  }

  /** A new keeper (the old one is gone or there was none) starts the command. */
  private spawnNew(name: string, restarting: boolean, adoptPid?: number): void {
    const e = this.update(name, (x) => {
      x.keeperSerial += 1;
      x.keeper = { pid: 0, start: 0, serial: x.keeperSerial, lastSeq: 0 };
      x.awaiting = null;
      if (!adoptPid) {
        x.state = 'starting';
        x.restarting = restarting;
        x.restartAt = null;
      }
    });
    if (!e) return;
    const env = { ...this.baseEnv, ...e.env, HAM_ENTITY: e.name, HAM_INSTANCE: String(e.instance + 1) };
    let keeper: ProcId;
    try {
      keeper = spawnKeeper(this.paths, { id: e.id, serial: e.keeper!.serial, name: e.name, argv: e.argv, env, cwd: e.cwd, adoptPid });
    } catch (err) {
      this.log('error', 'keeper could not be started', { entity: name, error: (err as Error).message });
      this.update(name, (x) => {
        x.keeper = null;
        x.lastError = `keeper could not be started: ${(err as Error).message}`;
        this.decide(x, null, Date.now());
      });
      const after = this.store.entity(name);
      if (after) this.carryOut(after);
      return;
    }
    this.update(name, (x) => {
      if (x.keeper && x.keeper.serial === e.keeper!.serial && x.keeper.pid === 0) Object.assign(x.keeper, keeper);
    });
  }

  /** The keeper's life FIFO hit EOF: it exited or was killed. */
  private keeperGone(name: string, serial: number): void {
    this.unwatch(name);
    this.inbox.drain(); // whatever it wrote before dying comes first
    const e = this.store.entity(name);
    if (!e || !e.keeper || e.keeper.serial !== serial) return;
    const dismissed = e.awaiting !== null && (e.state === 'stopped' || (e.state === 'dead' && !(e.restart && e.desired === 'running')));
    removeKeeperDir(this.paths, e.id, serial);
    if (dismissed) {
      this.update(name, (x) => {
        x.keeper = null;
        x.awaiting = null;
      });
      return;
    }
    this.log('warn', 'keeper died', { entity: name, keeper: e.keeper.pid, state: e.state });
    const orphan = e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart });
    if (orphan && e.state === 'running') return this.spawnNew(name, false, e.pid!);
    const after = this.update(name, (x) => {
      x.keeper = null;
      x.awaiting = null;
      if (x.state === 'running' || (x.state === 'starting' && !x.restarting && x.instance > 0)) {
        // Its child died with it and nobody saw the status.
        x.deaths += 1;
        x.lastExit = { code: null, signal: null };
        x.pid = null;
        x.pidStart = null;
        x.diedAt = Date.now();
      }
      if (x.state !== 'dead' || x.restartAt === null) this.decide(x, null, Date.now());
      if (x.state === 'dead' && x.restart && x.desired === 'running' && x.restartAt === null) x.restartAt = Date.now();
    });
    if (after) this.carryOut(after);
  }

  // ---- resume -------------------------------------------------------------

  private reconcile(e: EntityRecord, fresh: boolean): void {
    if (fresh && e.desired === 'stopped') {
      // `ham stop --all` stopped it; this `ham start` brings it back.
      const alive = e.state === 'running' || e.state === 'starting';
      e = this.update(e.name, (x) => void (x.desired = 'running')) ?? e;
      if (!alive) {
        if (e.keeper && e.awaiting !== null) commandKeeper(this.paths, e.id, e.keeper.serial, 'x', e.awaiting);
        if (e.keeper) removeKeeperDir(this.paths, e.id, e.keeper.serial);
        this.update(e.name, (x) => {
          x.keeper = null;
          x.awaiting = null;
        });
        return this.spawnNew(e.name, false);
      }
    }
    if (e.keeper && e.keeper.pid === 0) {
      // Killed between spawning a keeper and recording its pid: find it by its folder.
      const dir = keeperDir(this.paths, e.id, e.keeper.serial);
      const pid = findProcesses((argv) => argv.includes(dir))[0];
      const id = pid === undefined ? undefined : procId(pid);
      e = this.update(e.name, (x) => void (x.keeper && id && Object.assign(x.keeper, id))) ?? e;
    }
    if (e.keeper && !isAlive(e.keeper)) return this.keeperGone(e.name, e.keeper.serial);
    if (e.keeper) {
      if (e.keeper.lastSeq >= 1) this.watch(e);
      if (e.state === 'starting' && e.restarting && e.awaiting !== null) {
        commandKeeper(this.paths, e.id, e.keeper.serial, 'r', e.awaiting); // may have been lost
      } else {
        this.carryOut(e);
      }
      return;
    }
    if (e.desired === 'running' && (e.state === 'running' || e.state === 'starting')) return this.spawnNew(e.name, false);
    this.carryOut(e);
  }

  // ---- helpers ------------------------------------------------------------

  private async stopOne(name: string): Promise<void> {
    const e = this.update(name, (x) => {
      x.desired = 'stopped';
      x.restartAt = null;
      if (x.state === 'dead') x.state = 'stopped';
    });
    if (!e) return;
    this.cancelTimer(name);
    if (e.state === 'stopped') return this.carryOut(e);
    const gone = (x: EntityRecord | undefined): boolean => !x || x.state === 'stopped';
    this.signalGroup(e, 'SIGTERM');
    if (await this.waitFor(name, gone, STOP_GRACE_MS).then(gone)) return;
    const now = this.store.entity(name);
    if (now) this.signalGroup(now, 'SIGKILL');
    await this.waitFor(name, gone, KILL_GRACE_MS);
  }

  private signalGroup(e: EntityRecord, sig: NodeJS.Signals): void {
    if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) return;
    try {
      process.kill(-e.pid, sig);
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
    if (!e.keeper || this.lifeWatches.has(e.name)) return;
    const serial = e.keeper.serial;
    this.lifeWatches.set(
      e.name,
      watchLife(this.paths, e.id, serial, () => {
        this.lifeWatches.delete(e.name);
        this.keeperGone(e.name, serial);
      }),
    );
  }

  private unwatch(name: string): void {
    this.lifeWatches.get(name)?.();
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

  private write<T>(fn: () => T): T {
    try {
      return this.store.fenced(this.epoch, fn);
    } catch (e) {
      // Another process holds the HAM role now: acting further would duplicate it.
      if (e instanceof HamError && e.code === 'fenced') this.onFenced(e);
      throw e;
    }
  }
}
