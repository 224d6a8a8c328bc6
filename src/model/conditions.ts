// Conditions, actions, events and action runs: what the QNX HAM model adds to
// an entity, as stored. Counters live next to what they count.
import type { Failure } from './failures.js';

export const CONDITION_TYPES = [
  'death',
  'abnormal-death',
  'detach',
  'attach',
  'restart',
  'heartbeat-missed-low',
  'heartbeat-missed-high',
  'health-check-failed',
  'escalate',
  'ready',
  'raise',
  'state',
  'cluster',
  'any',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** What a `cluster` condition reacts to (README "Cluster"): on the global entity `*`, with `cluster` saying which. */
export const CLUSTER_EVENTS = ['etcd-lost', 'etcd-back', 'placed', 'relocated', 'released', 'gave-up'] as const;
export type ClusterEventKind = (typeof CLUSTER_EVENTS)[number];

export const ACTION_KINDS = ['restart', 'execute', 'signal', 'notify', 'waitfor', 'heartbeat-healthy', 'log'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A raise's severity: 32 bits, as a C detector sends it (a larger number is refused, not stored as 1e+23). */
export const SEVERITY_MIN = -2_147_483_648;
export const SEVERITY_MAX = 2_147_483_647;

/** Each field exact, or any when absent. */
export interface RaiseMatch {
  type?: string;
  class?: string;
  severity?: number;
}

/** A set of states, or "all but" a set. */
export interface StateSet {
  in?: string[];
  notIn?: string[];
}

export interface ActionCounters {
  runs: number;
  failures: number;
  lastRunAt: number | null;
  lastResult: 'ok' | 'failed' | null;
  lastError: string | null;
  /** The last failure as data, when there was one to describe (see Failure in errors.ts). */
  lastFailure?: Failure;
}

/**
 * An action, as stored and run: flat (each kind's fields optional), as the
 * core reads them. Declared by hand, not inferred from its schema
 * (protocol/specs.ts), because it is recursive (`onFail`) and the model
 * imports nothing of ours; the schema is typed with it and checked field by
 * field against it at compile time (`sameFields` there).
 */
export interface ActionSpec {
  name: string;
  kind: ActionKind;
  enabled: boolean;
  now: boolean;
  breakOnFail: boolean;
  keepOnFail: boolean;
  onFail: ActionSpec[];
  // execute
  argv?: string[];
  env?: Record<string, string>;
  cwd?: string;
  // execute, waitfor
  timeoutMs?: number;
  // execute: between SIGTERM and SIGKILL of a timed-out command's group
  graceMs?: number;
  // execute: run as this user (name or id), with its primary group
  user?: string | number;
  // signal
  signal?: string;
  pid?: number;
  // waitfor
  path?: string;
  delayMs?: number;
  // log
  message?: string;
  level?: (typeof LOG_LEVELS)[number];
}

export type ActionRecord = ActionSpec & ActionCounters & { onFail: ActionRecord[] };

export interface ConditionSpec {
  name: string;
  type: ConditionType;
  enabled: boolean;
  rearm: boolean;
  independent: boolean;
  match?: RaiseMatch;
  from?: StateSet;
  to?: StateSet;
  actions: ActionSpec[];
}

export interface ConditionRecord extends ConditionSpec {
  actions: ActionRecord[];
  fired: number;
  failed: number;
  lastFiredAt: number | null;
}

/** Something that happened to an entity; conditions match against it. */
export interface Occurrence {
  entity: string;
  type: Exclude<ConditionType, 'any'>;
  pid?: number | null;
  exit?: { code: number | null; signal: string | null; core?: boolean } | null;
  raise?: { type: string; class?: string; severity?: number };
  state?: { from: string | null; to: string };
  /** A cluster event: which, and the placed entity, node and fencing token where it concerns one. */
  cluster?: { event: ClusterEventKind; entity?: string; node?: string; token?: string };
  /** Free text for humans (e.g. why a restart failed). */
  detail?: string;
  /** What failed, as data (a detector's check: argv, exitCode, signal, durationMs, timedOut, lastLine). */
  failure?: Failure;
  /** A client's idempotency key: the same request sent again (across a takeover) makes no second event. */
  key?: string;
}

export interface EventRecord extends Omit<Occurrence, 'type'> {
  /**
   * `notify`: published by a notify action; `takeover`: a Guardian took the HAM role (on `*`); `requested`: an
   * operator's `ham stop|start|restart|reload NAME` (its detail says which); `pair-start`, `pair-stop`: `ham start`
   * made a HAM, `ham stop` stopped the pair (on `*`). None fires conditions.
   */
  type: Occurrence['type'] | 'notify' | 'takeover' | 'requested' | 'pair-start' | 'pair-stop';
  /** The pair's events (takeover, pair-start, pair-stop): the epoch they began or ended. */
  epoch?: number;
  seq: number;
  time: number;
  /** The conditions this occurrence fired, as owner/condition. */
  fired: { owner: string; condition: string }[];
  /** A `notify` action's event points at the event that fired it. */
  notifies?: number;
  /** Fired conditions whose lists were not queued: RUNS_PER_ENTITY were waiting for the entity (ham/dispatch.ts). */
  coalesced?: { owner: string; condition: string }[];
}

/** An action list in progress: survives a takeover in the store. */
export interface RunRecord {
  id: number;
  seq: number;
  target: string;
  owner: string;
  condition: string;
  independent: boolean;
  actions: ActionSpec[];
  /** Where it is: main[c0].onFail[c1].onFail[c2]...; empty before the first action. */
  cursor: number[];
  /** The action at the cursor was started and its result is not known. */
  inFlight: boolean;
  /** When not in flight: how the action at the cursor ended. */
  lastOk: boolean;
  /** A running `execute` child, killed before the action is run again after a takeover. */
  child: { pid: number; start: number } | null;
  occurrence: Occurrence;
  createdAt: number;
}
