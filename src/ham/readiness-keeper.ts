// Readiness the keeper answers (notify, fd: keeper-ready.c). Its cumulative
// state file is read at each poke, when the HAM starts waiting for an instance
// (a READY=1 may have come before its S record was applied) and at a takeover,
// so a new HAM never waits for a second READY=1. What is new is applied: ready
// (through Readiness.markReady), the STATUS text, reloading and stopping flags,
// the ignored count, a deadline moved by EXTEND_TIMEOUT_USEC (in the store: a
// takeover keeps it), and WATCHDOG=1 beats, watched like a self-attached
// entity's heartbeats (a missed one fires heartbeat-missed-low, then -high).
import { keeperDir } from '../keeper/link.js';
import { readReadyState } from '../keeper/ready-state.js';
import { keeperSide, READY_TEXT_MAX, type KeeperReadiness } from '../model/readiness.js';
import type { EntityRecord, HeartbeatSpec } from '../model/records.js';
import { procId } from '../proc/procfs.js';
import { processRuns, readyOf } from './lifecycle.js';
import type { SupervisorCore } from './supervisor-core.js';

/** A takeover is not silence: the watchdog's window starts this much later (as self-attached heartbeats'). */
const TAKEOVER_GRACE_MS = 2000;

export interface ReadyInputs {
  markReady(name: string, instance: number, text: string): boolean;
  extend(name: string, instance: number, until: number): void;
}

const same = (a: KeeperReadiness, b: KeeperReadiness): boolean =>
  a.status === b.status &&
  a.reloading === b.reloading &&
  a.stopping === b.stopping &&
  a.ignored === b.ignored &&
  a.extendedTo === b.extendedTo &&
  a.reloads === b.reloads &&
  a.reloaded === b.reloaded;

/** Is a live process with start time `now` the one its keeper saw at MAINPID= (start `said`)? 0: an older keeper's state (no start written). */
export const mainPidHolds = (said: number, now: number): boolean => said === 0 || said === now;

export class KeeperReadinessReader {
  /** WATCHDOG=1 beats seen, per entity, for the keeper serial that counted them. */
  private readonly beats = new Map<string, { serial: number; count: number }>();

  constructor(
    private readonly core: SupervisorCore,
    private readonly inputs: ReadyInputs,
  ) {}

  forget(name: string): void {
    this.beats.delete(name);
  }

  /** Read `e`'s keeper state and apply what is new (`resumed`: at a takeover, its watchdog watched again). */
  read(e: EntityRecord, resumed = false): void {
    const probe = e.readiness?.probe;
    if (!probe || !keeperSide(probe) || !e.keeper) return;
    const s = readReadyState(keeperDir(this.core.paths, e.id, e.keeper.serial));
    if (!s) return;
    const now = s.instance === e.instance;
    const prev = e.keeperReady ?? { status: '', reloading: false, stopping: false, ignored: 0, extendedTo: null };
    const next: KeeperReadiness = now
      ? {
          status: s.status.slice(0, READY_TEXT_MAX),
          reloading: s.reloading,
          stopping: s.stopping,
          ignored: s.ignored,
          extendedTo: s.extendUntil || null,
          reloads: s.reloads,
          reloaded: s.reloaded,
        }
      : { ...prev, ignored: s.ignored }; // an earlier instance's state: only its ignored count is news
    if (!e.keeperReady || !same(prev, next)) {
      const instance = e.instance;
      this.core.updateIfPresent(e.name, (rec) => {
        if (rec.instance !== instance) return;
        rec.keeperReady = next;
        if (now && next.status && readyOf(rec.life)) rec.readyText = next.status; // a STATUS= after READY=1
      });
      if (next.ignored > prev.ignored)
        this.core.log('warn', 'readiness datagrams ignored (another process, or malformed)', { entity: e.name, ignored: next.ignored });
    }
    if (!now) return;
    if (s.mainPid > 0 && s.mainPid !== e.pid && processRuns(e.life)) this.follow(e, s.mainPid, s.mainStart);
    if (next.extendedTo) this.inputs.extend(e.name, e.instance, next.extendedTo);
    if (s.ready && !s.reloading) {
      const text = next.status || (probe.kind === 'fd' ? `a newline on fd ${probe.fd}` : 'READY=1');
      this.inputs.markReady(e.name, e.instance, text);
    }
    if (probe.kind === 'notify' && probe.watchdogMs) this.watchdog(e, probe.watchdogMs, s.watchdog, resumed);
  }

  /**
   * MAINPID=: the entity is that process from now on (its keeper watches it once the command ends).
   * Only while the pid is still the process its keeper saw (`start`: its start time then): a pid
   * reused since (the main process died before this read) is another process, never followed.
   */
  private follow(e: EntityRecord, pid: number, start: number): void {
    const id = procId(pid);
    if (!id) return; // gone already: its keeper reports the death
    if (!mainPidHolds(start, id.start)) {
      this.core.log('warn', 'MAINPID= not followed: that pid is another process now (reused)', { entity: e.name, pid, expected: start, got: id.start });
      return;
    }
    const instance = e.instance;
    this.core.log('info', 'main pid changed (MAINPID=)', { entity: e.name, from: e.pid, to: pid });
    this.core.updateIfPresent(e.name, (rec) => {
      if (rec.instance !== instance) return;
      // The command (the keeper's child) leads the group: kept, so a stop ends it too, not only the main pid.
      if (rec.kind === 'spawned' && rec.pid !== null && rec.mainGroup?.instance !== instance) rec.mainGroup = { instance, pgid: rec.pid };
      rec.pid = pid;
      rec.pidStart = id.start;
    });
    e.pid = pid;
  }

  private watchdog(e: EntityRecord, periodMs: number, count: number, resumed: boolean): void {
    const serial = e.keeper!.serial;
    const had = this.beats.get(e.name);
    this.beats.set(e.name, { serial, count });
    const { heartbeats } = this.core.with;
    const spec: HeartbeatSpec = { periodMs, missedLow: 1, missedHigh: 2 };
    if (!processRuns(e.life)) return;
    if (resumed) {
      if (count > 0) heartbeats.track(e.name, spec, e.heartbeatState, performance.now() + TAKEOVER_GRACE_MS);
      return;
    }
    const beat = had?.serial === serial ? count > had.count : count > 0;
    if (beat && !heartbeats.beat(e.name)) heartbeats.track(e.name, spec, 'ok'); // its first beat: watched from now on
  }
}
