// The lifecycle table applied to the store: one event is one fenced write
// transaction that reads the entity's lifecycle, takes the table's step,
// writes the next state with the record data its marks name, and fires its
// occurrences (with their action runs) in the same transaction. Then what
// fired is published and the step's effects are carried out, in order.
import { failpoint } from '../failpoints.js';
import { commandKeeper, detachKeeper, removeKeeperDir, removeReadyPaths } from '../keeper/link.js';
import { isAlive, procId } from '../proc/procfs.js';
import type { Failure } from '../model/failures.js';
import type { EntityRecord } from '../model/records.js';
import { emptyFired, type Fired } from './dispatch.js';
import type { Effect, ExitInfo, LifeEvent } from './lifecycle-events.js';
import { transition, withRestartDecision, type Outcome } from './lifecycle-table.js';
import { processRuns, unreadyOf } from './lifecycle.js';
import { pruneOneShot } from './spent-conditions.js';
import { restartByKeeper } from './stale-keeper.js';
import type { SupervisorCore } from './supervisor-core.js';
import { removeCgroup } from './cgroups.js';

export interface EventData {
  /** Record data the event carries besides the lifecycle (a keeper's seq, a pid), written first. */
  data?: (rec: EntityRecord) => void;
  /** The process the event is about (S: its pid; X: the pid that exited). */
  pid?: number | null;
  exit?: ExitInfo;
  /** Why a start failed (mark `start-failed`). */
  startError?: string;
  /** The same, as data (shown as the entity's lastFailure). */
  startFailure?: Failure;
  /** What answered (mark `ready`): kept as the entity's readyText. */
  readyText?: string;
  /** Crash tests: die after writing, before commit. */
  point?: string;
  /** Inside the transaction, after the step was written (a standing order's restart, standing-orders.ts). */
  after?: (rec: EntityRecord) => void;
}

export interface Applied {
  entity: EntityRecord;
  /** Null: the table ignores this event in this state (the event's data is still written). */
  outcome: Outcome | null;
  fired: Fired;
}

export class Transitions {
  constructor(private readonly core: SupervisorCore) {}

  /** Apply `ev` to `name` in one fenced transaction and publish what fired; the caller carries out the effects (`perform`). */
  apply(name: string, event: LifeEvent | ((rec: EntityRecord) => LifeEvent), d: EventData = {}): Applied | undefined {
    const now = Date.now();
    const fired = emptyFired();
    fired.seenAt = performance.now();
    let outcome: Outcome | null = null;
    const entity = this.core.updateIfPresent(
      name,
      (rec) => {
        d.data?.(rec);
        // An event may be decided from the record inside the transaction (a restart's backoff and intensity).
        const ev = typeof event === 'function' ? event(rec) : event;
        if (ev.tag === 'detach') return; // removal is the detach request's own transaction (stepIn)
        outcome = this.stepIn(rec, ev, d, fired, now);
      },
      d.point,
    );
    if (!entity) return undefined;
    this.core.publish(fired);
    return { entity, outcome, fired };
  }

  /**
   * Inside a write transaction the caller holds (for a record it creates, fills
   * or removes there): the table's step for `ev` written into `rec`, its
   * occurrences fired into `fired`; null if the table ignores it. The caller
   * stores `rec` (or removes it: `removed`), publishes and performs the effects.
   */
  stepIn(rec: EntityRecord, ev: LifeEvent, d: EventData, fired: Fired, now = Date.now()): Outcome | null {
    const step = transition(rec.life, ev, { kind: rec.kind, hasCommand: rec.argv.length > 0, probed: !!rec.readiness });
    return step && this.write(rec, step, d, now, fired);
  }

  /** Inside the transaction: the marks' record data, the next state, the occurrences. */
  private write(rec: EntityRecord, step: Outcome, d: EventData, now: number, fired: Fired): Outcome {
    const marks = new Set(step.marks);
    // As they were before the event: the uptime counts only a process that ran; the death names the pid it was.
    const wasRunning = processRuns(rec.life);
    // A death of a start that was not ready in time: its event says so (lastError was written by not-ready).
    const notReady = unreadyOf(rec.life) && rec.lastError !== null ? rec.lastError : null;
    const pidBefore = rec.pid;
    const failing = rec.healthFailing;
    if (marks.has('instance')) {
      const pid = d.pid ?? rec.pid;
      if (pid !== null && (rec.pid !== pid || rec.pidStart === null)) {
        rec.pid = pid;
        rec.pidStart = procId(pid)?.start ?? null;
      }
      rec.instance += 1;
      rec.lastError = null;
      delete rec.lastFailure;
      delete rec.readyText;
      delete rec.keeperReady;
      rec.startedAt = now;
    }
    if (marks.has('ready')) rec.readyText = d.readyText ?? null;
    if (marks.has('not-ready')) {
      rec.lastError = d.startError ?? 'not ready in time';
      if (d.startFailure) rec.lastFailure = d.startFailure;
    }
    if (marks.has('death') || marks.has('exit')) {
      const exit = d.exit ?? { code: null, signal: null, core: false };
      rec.lastUptimeMs = rec.startedAt !== null && wasRunning ? now - rec.startedAt : null;
      rec.lastExit = { code: exit.code, signal: exit.signal };
      rec.diedAt = now;
    }
    if (marks.has('death')) rec.deaths += 1;
    if (marks.has('start-failed')) {
      rec.lastError = d.startError ?? 'the start failed';
      if (d.startFailure) rec.lastFailure = d.startFailure;
      else delete rec.lastFailure;
      rec.failedStartAt = now;
    }
    if (marks.has('process-gone')) {
      // A joined client's heartbeat and health check were this process's: its next instance attaches anew.
      if (rec.kind !== 'self') rec.heartbeat = null;
      rec.health = null;
      rec.healthFailing = null;
      rec.pid = null;
      rec.pidStart = null;
    }
    if (marks.has('restarts')) rec.restarts += 1;
    if (marks.has('new-keeper')) {
      rec.keeperSerial += 1;
      rec.keeper = { pid: 0, start: 0, serial: rec.keeperSerial, lastSeq: 0 };
    }
    if (marks.has('reset')) {
      rec.restartTimes = [];
      rec.backoffMs = rec.restartPolicy.backoff.initialMs;
      rec.restarts = 0;
      rec.deaths = 0;
      rec.lastError = null;
      delete rec.lastFailure;
    }
    if (marks.has('escalated')) {
      const p = rec.restartPolicy.intensity;
      rec.lastError = p ? `restarted ${p.max} times within ${p.withinMs} ms: escalated and gave up` : 'escalated and gave up';
      rec.diedAt = rec.diedAt ?? now;
    }
    if (step.next !== 'removed') rec.life = step.next;
    let restartFired = false;
    for (const o of step.occurrences) {
      if (o.type === 'attach' || o.type === 'detach') {
        this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: o.type, pid: rec.pid ?? d.pid ?? null }, rec, fired);
      } else if (o.type === 'ready') {
        this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: 'ready', pid: rec.pid, ...(d.readyText ? { detail: d.readyText } : {}) }, rec, fired);
      } else if (o.type === 'restart') {
        this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: 'restart', pid: rec.pid ?? d.pid ?? null }, rec, fired);
        pruneOneShot(rec); // not re-armed: pruned at restart (and remembered: re-applying the file keeps it spent)
      } else if (o.type === 'death' || o.type === 'abnormal-death') {
        const detail = failing ? `after a failed health check (${failing.reason})` : (notReady ?? undefined);
        const exit = d.exit ?? { code: null, signal: null, core: false };
        const f = this.core.with.dispatcher.fireInTxn(
          { entity: rec.name, type: o.type, pid: d.pid !== undefined ? d.pid : pidBefore, exit, ...(detail ? { detail } : {}) },
          rec,
          fired,
        );
        restartFired ||= f.restart;
      } else if (o.type === 'requested') {
        // An operator's request by name: said in the event log, no condition fires (a requested stop is not a death).
        const ev = this.core.store.appendEvent({ entity: rec.name, type: 'requested', time: now, fired: [], pid: rec.pid, detail: `${o.request} requested` });
        fired.events.push(ev);
      } else if (o.type === 'escalate') {
        this.core.with.dispatcher.fireInTxn({ entity: rec.name, type: 'escalate', pid: null, detail: rec.lastError ?? undefined }, rec, fired);
      }
    }
    const decided = withRestartDecision(step, restartFired);
    if (decided !== step && decided.next !== 'removed') rec.life = decided.next;
    d.after?.(rec);
    return decided;
  }

  /** After the commit: the step's effects, in the table's order. */
  perform(e: EntityRecord, effects: Effect[]): void {
    const { paths, parts, with: w } = this.core;
    for (const fx of effects) {
      switch (fx.kind) {
        case 'watch-keeper':
          parts.keepers.watch(e);
          break;
        case 'release-keeper':
          if (e.keeper && !commandKeeper(paths, e.id, e.keeper.serial, 'x', fx.seq)) parts.keepers.keeperGone(e.name, e.keeper.serial);
          break;
        case 'restart-keeper':
          restartByKeeper(this.core, e, fx.seq);
          break;
        case 'spawn-keeper':
          // Its reference was written with the step (mark new-keeper): only the process is left to start.
          if (!fx.adopt && e.keeper && e.keeper.pid === 0 && e.keeper.lastSeq === 0) {
            failpoint(`spawn-keeper:${e.name}`); // crash tests: its start committed, its keeper not spawned
            parts.spawner.startKeeper(e);
          } else parts.spawner.spawnNew(e.name, fx.restart, fx.adopt ? (e.pid ?? undefined) : undefined);
          break;
        case 'signal':
          this.core.signalGroup(e, fx.signal === 'stop' ? (e.stopPolicy.signal as NodeJS.Signals) : 'SIGKILL');
          break;
        case 'schedule-restart':
          parts.restarts.schedule(e, fx.at);
          break;
        case 'retry-restart':
          parts.restarts.retrySoon(e.name);
          break;
        case 'cancel-restart':
          parts.restarts.cancel(e.name);
          break;
        case 'group-restart':
          void w.coord.groupRestart(e.name);
          break;
        case 'forget-health':
          parts.healthKills.forget(e.name);
          break;
        case 'untrack-heartbeats':
          w.heartbeats.untrack(e.name);
          break;
        case 'settled':
          w.coord.onSettled(e.name);
          break;
        case 'down':
          w.coord.onDown(e.name);
          break;
        case 'detach-keeper':
          if (e.keeper && isAlive(e.keeper)) detachKeeper(e.keeper);
          break;
        case 'probe-readiness':
          parts.readiness.track(e);
          break;
        case 'remove':
          if (e.keeper) removeKeeperDir(paths, e.id, e.keeper.serial);
          if (e.readiness) removeReadyPaths(paths, e.id);
          if (e.cgroup) {
            const kept = removeCgroup(e.cgroup); // busy while a detached process still runs there
            if (kept) this.core.log('warn', 'its cgroup is kept', { entity: e.name, why: kept });
          }
          parts.readiness.keeper.forget(e.name); // its WATCHDOG=1 count (kept across instances: a keeper's count is cumulative)
          this.core.names.delete(e.id);
          w.coord.invalidate();
          break;
      }
    }
  }
}
