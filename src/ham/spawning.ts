// Starting keepers: a new keeper per start (or adoption of a running process),
// and bulk starts (apply, resume) paced a few per event-loop turn.
import { killCgroup, prepareCgroup, removeCgroup } from './cgroups.js';
import { EARLIER_WATCH_MS, Launcher } from '../keeper/launcher.js';
import { PidWatch, type PidWatchOptions } from '../keeper/pid-watch.js';
import { keeperTag, spawnKeeper } from '../keeper/link.js';
import { runAsUserEnv } from '../keeper/runas-env.js';
import { procId, type ProcId } from '../proc/procfs.js';
import type { EntityRecord } from '../model/records.js';
import type { SupervisorCore } from './supervisor-core.js';
import { adoptedLife, keeperFailedLife, spawningLife, stopWanted } from './lifecycle.js';

/** Each spawn() forks this process: a thousand in one turn would block the event loop for seconds. */
const SPAWNS_PER_TURN = 8;
/** Through the launcher a start is a write to its pipe and one commit: many fit a turn. */
const LAUNCHES_PER_TURN = 64;

/** The launcher, where it was built; HAM_LAUNCHER=off starts keepers from this process (benches compare). */
function makeLauncher(log: SupervisorCore['log'], unheard: PidWatch): Launcher | undefined {
  if (process.env.HAM_LAUNCHER === 'off' || !Launcher.available()) return undefined;
  return new Launcher((message) => log('warn', message), unheard);
}

/** HAM_PID_WATCH_FAST_MS (tests): how long a keeper not heard of is polled often, at most (then seldom). */
function pidWatchOptions(env: NodeJS.ProcessEnv): PidWatchOptions {
  const ms = Number(env.HAM_PID_WATCH_FAST_MS);
  return env.HAM_PID_WATCH_FAST_MS && Number.isInteger(ms) && ms >= 0 ? { fastMaxMs: ms } : {};
}

export class Spawner {
  private readonly queue: { name: string; adoptPid?: number | undefined; restarting: boolean }[] = [];

  readonly launcher: Launcher | undefined;
  /**
   * A placed entity's keeper deadline (ms from now, from the node's last confirmed lease renewal), set by
   * the cluster runtime; undefined: no live grant (not loaded yet, not owned here, no renewal in time).
   */
  placedFence: ((e: EntityRecord) => number | undefined) | undefined;
  /** Keepers whose exit nobody reports before their first record (the launcher's, and those reconcile found). */
  private readonly unheard = new PidWatch(pidWatchOptions(process.env));

  constructor(private readonly core: SupervisorCore) {
    this.launcher = makeLauncher(core.log, this.unheard);
  }

  close(): void {
    this.launcher?.close();
    this.unheard.close();
  }

  /** Keeper `tag`'s first record is in: nothing more to watch by pid. */
  settled(tag: string): void {
    this.launcher?.settled(tag);
    this.unheard.settle(tag);
  }

  /**
   * `e`'s keeper, found alive by a new HAM before its first record (a dead HAM or launcher started it,
   * perhaps not exec'd yet): its life FIFO is not open yet, so a death before that record is seen by pid.
   */
  watchUnheard(e: EntityRecord, keeper: ProcId): void {
    const serial = e.keeper!.serial;
    this.unheard.watch(keeperTag(e.id, serial), keeper, EARLIER_WATCH_MS, () => this.lostEarly(e.name, serial));
  }

  /** Keeper `serial` of `name` died before its first record: gone, unless that record came after all. */
  private lostEarly(name: string, serial: number, why?: string): void {
    const { store, parts } = this.core;
    parts.keepers.drain();
    const now = store.entity(name);
    if (now?.keeper?.serial === serial && now.keeper.lastSeq === 0) parts.keepers.keeperGone(name, serial, why);
  }

  /** Started by this HAM through the launcher, its K record not applied yet (its pid 0 is no loss). */
  launching(e: EntityRecord): boolean {
    return !!e.keeper && e.keeper.pid === 0 && !!this.launcher?.has(keeperTag(e.id, e.keeper.serial));
  }

  /**
   * Start (or adopt) soon, a few per turn: a thousand spawns in one loop would
   * block the event loop for seconds, and the Guardian would rightly call it a hang.
   */
  spawnSoon(name: string, adoptPid?: number, restarting = false): void {
    this.queue.push({ name, adoptPid, restarting });
    if (this.queue.length === 1) setImmediate(() => this.drain());
  }

  private drain(): void {
    const { coord } = this.core.with;
    const { holds } = this.core.parts;
    const launcher = this.launcher;
    // The launcher's unanswered requests are bounded: the rest waits here, as names.
    if (launcher && !launcher.room()) return launcher.whenRoom(() => this.drain());
    for (const job of this.queue.splice(0, launcher ? LAUNCHES_PER_TURN : SPAWNS_PER_TURN)) {
      const e = this.core.store.entity(job.name);
      if (!e || stopWanted(e.life) || e.keeper) continue;
      if (!job.adoptPid && !coord.requirementsUp(e))
        holds.holdInstead(job.name, 'requires'); // started once they run
      else if (!job.adoptPid && coord.waitsForGroup(e))
        holds.holdInstead(job.name, 'group'); // its group starts in order
      else this.spawnNew(job.name, job.restarting, job.adoptPid);
    }
    if (this.queue.length) setImmediate(() => this.drain());
  }

  /** A new keeper (the old one is gone or there was none) starts the command, or adopts `adoptPid`. */
  spawnNew(name: string, restarting: boolean, adoptPid?: number): void {
    const e = this.core.updateIfPresent(name, (rec) => {
      rec.keeperSerial += 1;
      rec.keeper = { pid: 0, start: 0, serial: rec.keeperSerial, lastSeq: 0 };
      if (adoptPid) {
        const id = procId(adoptPid);
        rec.pid = adoptPid;
        rec.pidStart = id?.start ?? null;
        rec.life = adoptedLife(rec.life);
        if (rec.startedAt === null) rec.startedAt = Date.now();
      } else {
        rec.life = spawningLife(rec.life, restarting); // a start ends a hold; an adoption does not (a held entity being stopped stays held)
      }
    });
    if (e) this.startKeeper(e, adoptPid);
  }

  /** Start the keeper whose reference `e` holds (written, pid 0): it starts the command, or adopts `adoptPid`. */
  startKeeper(e: EntityRecord, adoptPid?: number): void {
    const { paths, log, baseEnv } = this.core;
    const name = e.name;
    const env: Record<string, string> = { ...baseEnv, ...runAsUserEnv(e.runAs), ...e.env, HAM_ENTITY: e.name, HAM_INSTANCE: String(e.instance + 1) };
    // An orphan that MAINPID= named: its keeper watches the group its command led as well (keeper-ready.c).
    if (adoptPid && e.mainGroup?.instance === e.instance) env.HAM_KEEPER_GROUP = String(e.mainGroup.pgid);
    const serial = e.keeper!.serial;
    if (e.env.HAM_FENCE_TOKEN !== undefined) {
      // Placed (marked in the store by its token): never started from the store alone (a node back from a
      // reboot must not run what another node took over); an orphan is still adopted, to be watched.
      const ms = this.placedFence?.(e);
      if (ms !== undefined) env.HAM_FENCE_MS = String(ms);
      else if (!adoptPid)
        return this.refuse(e, 'expected a live grant from the cluster runtime (this node owns it, a lease renewal confirmed in time), got none');
    }
    // Its cgroup made (or brought up to date) before each keeper: the keeper's child moves itself there.
    let cgroup: string | undefined;
    if (e.runAs?.cgroup && !adoptPid) {
      try {
        cgroup = prepareCgroup(paths.root, e.id, e.runAs.cgroup, e.name);
      } catch (err) {
        return this.refuse(e, (err as Error).message);
      }
      if (e.cgroup !== cgroup) this.core.updateIfPresent(name, (rec) => void (rec.cgroup = cgroup));
    } else if (e.cgroup && !e.runAs?.cgroup && !adoptPid) this.dropCgroup(name, e.cgroup);
    // A keeper that dies before its first record never opened its life FIFO:
    // as its parent we see the exit instead.
    const early = (why?: string): void => this.lostEarly(name, serial, why);
    let keeper: ProcId;
    try {
      keeper = spawnKeeper(
        paths,
        {
          id: e.id,
          serial,
          name: e.name,
          argv: e.argv,
          env,
          cwd: e.cwd,
          adoptPid,
          logs: e.logs,
          readiness: e.readiness,
          runAs: e.runAs,
          cgroup,
          created: e.createdAt,
        },
        early,
        this.launcher,
      );
    } catch (err) {
      return this.refuse(e, (err as Error).message, adoptPid);
    }
    if (keeper.pid === 0) return; // launched: its K record brings the pid
    this.core.updateIfPresent(name, (rec) => {
      if (rec.keeper && rec.keeper.serial === serial && rec.keeper.pid === 0) Object.assign(rec.keeper, keeper);
    });
  }

  /**
   * Its `cgroup:` was dropped by an apply: what is left in the old cgroup is killed (its last instance is
   * gone, as its keeper: what is there escaped it, e.g. a setsid daemon a restart does not kill; the new
   * instance runs in the pair's cgroup), then the folder goes. The record forgets it only once it is
   * gone, so a later stop (or removal) still kills and removes what could not be yet.
   */
  private dropCgroup(name: string, dir: string): void {
    const still = (): boolean => {
      const x = this.core.store.entity(name);
      return !!x && x.cgroup === dir && !x.runAs?.cgroup;
    };
    const done = (why: string | null): void => {
      if (why) this.core.log('warn', 'its old cgroup is kept', { entity: name, why });
      else
        this.core.updateIfPresent(name, (rec) => {
          if (rec.cgroup === dir && !rec.runAs?.cgroup) rec.cgroup = null;
        });
    };
    killCgroup(dir, { mayKill: still })
      .then((killed) => {
        if (killed.length) this.core.log('info', 'killed what was left in its old cgroup', { entity: name, cgroup: dir, pids: killed });
        if (still()) done(removeCgroup(dir));
      })
      .catch((err: unknown) => done((err as Error).message));
  }

  private refuse(e: EntityRecord, why: string, adoptPid?: number): void {
    this.core.log('error', 'keeper could not be started', { entity: e.name, error: why });
    this.core.updateIfPresent(e.name, (rec) => {
      rec.keeper = null;
      rec.lastError = `keeper could not be started: ${why}`;
      rec.lastFailure = { argv: rec.argv, exitCode: null, signal: null, startError: why };
      if (adoptPid) return; // the orphan still runs: adopted again at the next resume
      rec.failedStartAt = Date.now();
      rec.life = keeperFailedLife(rec.life);
    });
  }
}
