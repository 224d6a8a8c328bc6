// What happens to an entity (the events of the lifecycle table), and what a
// transition asks for: effects, carried out by the supervisor after the
// transaction that wrote the new state, and occurrences, fired (with their
// conditions' action lists) inside that same transaction.
import type { EntityKind } from '../model/records.js';
import type { HoldReason, Life } from '../model/life.js';

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  core: boolean;
}

export type LifeEvent =
  /** Keeper records (src/keeper/records.ts, keeper.pl): K its pid, P the command forked, S it exec'd, F it could not, X it exited. */
  | { tag: 'K' }
  | { tag: 'P' }
  | { tag: 'S' }
  | { tag: 'F'; seq: number }
  | { tag: 'X'; seq: number; exit: ExitInfo }
  /**
   * The keeper's life FIFO hit EOF; `orphan`: the entity's process still runs without it;
   * `dismissed`: it had been told to exit (nothing was lost).
   */
  /** `retry`: false when this entity already lost a keeper before its exec (a restart is then not retried again). */
  | { tag: 'keeper-gone'; orphan: boolean; dismissed: boolean; now: number; retry?: boolean }
  /** A self-attached client's connection closed without a detach; `alive`: its process still runs. */
  | { tag: 'conn-closed'; alive: boolean }
  /** A restart action decided (once per death): due at `at`, or over the intensity (escalate). */
  | { tag: 'restart-decided'; at: number; over: boolean }
  /** A restart action ran out of time or its start failed: no restart is coming for this death. */
  | { tag: 'restart-given-up' }
  /** The backoff of a scheduled restart is over; what the coordinator says about it now. */
  | { tag: 'restart-due'; requirementsUp: boolean; groupBusy: boolean; takesAlong: boolean; keeperParked: boolean }
  /** The coordinator holds it (its group restarts, or a requirement is down). */
  | { tag: 'hold'; why: HoldReason }
  /** About to start, but held instead (its requirements are down, or its group starts in order); `keeperless`: no keeper was started for it yet. */
  | { tag: 'hold-instead'; why: HoldReason; keeperless: boolean }
  /** The coordinator starts it again (a hold is over, or its group's turn came). */
  | { tag: 'release'; restart: boolean; keeperParked: boolean }
  /** `ham reset NAME`. */
  | { tag: 'reset'; now: number }
  /** A graceful stop (`ham stop --all`, or a hold's stop). */
  | { tag: 'stop' }
  /**
   * `ham stop NAME` (`restart` false: it stays stopped) or `ham restart NAME` (started again once it
   * exited: a requested restart, not a death); `keeperParked`: a live keeper waits on its death record.
   */
  | { tag: 'ask-stop'; restart: boolean; keeperParked: boolean }
  /** `ham start NAME` (or `enable` of one that died while disabled). */
  | { tag: 'ask-start'; keeperParked: boolean }
  /** The stop timeout passed and it is still there. */
  | { tag: 'stop-timeout' }
  | { tag: 'detach' }
  /** Declared with something to run (`ham attach`, `ham apply`): it starts next (a keeper starts the command or adopts the pid). */
  | { tag: 'attach' }
  /** A process attached itself as this entity's next instance: it runs (a keeper adopts it). */
  | { tag: 'self-attach' }
  /** A failed health check's grace is over and the process is still there. */
  | { tag: 'health-kill' }
  /** Its readiness probe answered (for the instance running now: ham/readiness.ts checks). */
  | { tag: 'ready' }
  /** Not ready by its deadline: stopped (`kill`: the stop timeout passed too, SIGKILL), a failed start. */
  | { tag: 'not-ready'; kill: boolean };

export type EventTag = LifeEvent['tag'];
export const EVENT_TAGS = [
  'K',
  'P',
  'S',
  'F',
  'X',
  'keeper-gone',
  'conn-closed',
  'restart-decided',
  'restart-given-up',
  'restart-due',
  'hold',
  'hold-instead',
  'release',
  'reset',
  'stop',
  'ask-stop',
  'ask-start',
  'stop-timeout',
  'detach',
  'attach',
  'self-attach',
  'health-kill',
  'ready',
  'not-ready',
] as const satisfies readonly EventTag[];
export type EventOf<T extends EventTag> = Extract<LifeEvent, { tag: T }>;

/** What the supervisor does after the transaction commits. */
export type Effect =
  /** Watch the keeper's life FIFO. */
  | { kind: 'watch-keeper' }
  /** Tell the keeper waiting on death record `seq` to exit (no restart is coming). */
  | { kind: 'release-keeper'; seq: number }
  /** Tell the keeper waiting on death record `seq` to start the command again. */
  | { kind: 'restart-keeper'; seq: number }
  /** A new keeper starts the command (`restart`: counts as a restart), or adopts the running process. */
  | { kind: 'spawn-keeper'; restart: boolean; adopt: boolean }
  /** To the entity's process (group): its stop signal, or SIGKILL. */
  | { kind: 'signal'; signal: 'stop' | 'SIGKILL' }
  | { kind: 'schedule-restart'; at: number }
  /** Try the due restart again shortly (its group is being restarted). */
  | { kind: 'retry-restart' }
  | { kind: 'cancel-restart' }
  /** The group's strategy restarts it with the members it takes along. */
  | { kind: 'group-restart' }
  | { kind: 'forget-health' }
  | { kind: 'untrack-heartbeats' }
  /** Tell the coordinator: it runs now or its start failed / it went down. */
  | { kind: 'settled' }
  | { kind: 'down' }
  /** Let the keeper go (the process keeps running) and remove the entity from the store. */
  | { kind: 'detach-keeper' }
  | { kind: 'remove' }
  /** Probe its readiness until it answers or the start's deadline passes (ham/readiness.ts). */
  | { kind: 'probe-readiness' };

/** An occurrence a transition fires on the entity; `decidesRestart`: a restart action among what it fires makes the death `undecided`. */
export interface LifeOccurrence {
  type: 'death' | 'abnormal-death' | 'restart' | 'escalate' | 'attach' | 'detach' | 'ready' | 'requested';
  decidesRestart?: boolean;
  /** `requested`: what was asked by name (an event that fires no condition says so). */
  request?: 'stop' | 'start' | 'restart';
}

/** Counters and record data a transition changes besides its state. */
export type Mark =
  /** A new instance runs: instance + 1, startedAt, lastError cleared. */
  | 'instance'
  /** It counts as a restart: restarts + 1, conditions not re-armed pruned. */
  | 'restarts'
  /** A death: deaths + 1, lastExit, diedAt, uptime. */
  | 'death'
  /** A stop we asked for ended it: lastExit, diedAt, no death counted. */
  | 'exit'
  /** Its process is gone: pid, health, a joined client's heartbeat cleared. */
  | 'process-gone'
  /** The start failed (lastError, failedStartAt). */
  | 'start-failed'
  /** Fresh counters (`ham reset`). */
  | 'reset'
  /** Escalated: lastError says why, diedAt kept. */
  | 'escalated'
  /** A new keeper's reference (the next serial), written with the state it starts in; spawned after the commit. */
  | 'new-keeper'
  /** Ready: the probe's answer kept (readyText). */
  | 'ready'
  /** Not ready in time: lastError and lastFailure say why (kept through the death that follows). */
  | 'not-ready';

export interface Step {
  /** The next lifecycle; `same`: unchanged (in the table only); `removed`: the entity leaves the store. */
  next: Life | 'same' | 'removed';
  effects: Effect[];
  occurrences: LifeOccurrence[];
  marks: Mark[];
}

/** What a handler may read besides its state and event. */
export interface LifeContext {
  kind: EntityKind;
  /** The entity has a command (a restart has something to start). */
  hasCommand: boolean;
  /** It has a readiness probe: a started command is `running` but not ready until it answers. */
  probed?: boolean;
}
