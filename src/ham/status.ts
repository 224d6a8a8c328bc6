// `ham status` as data: the JSON contract in DESIGN.md, plus a few extras.
import type { ExitStatus, Failure } from '../errors.js';
import type { ActionRecord, ConditionRecord } from '../store/model.js';
import type { EntityRecord, EntityState } from '../store/types.js';

export interface ActionView {
  name: string;
  kind: ActionRecord['kind'];
  enabled: boolean;
  flags: string[];
  params: Record<string, unknown>;
  runs: number;
  failures: number;
  lastRunAt: string | null;
  lastResult: 'ok' | 'failed' | null;
  lastError: string | null;
  /** The last failure as data (execute: argv, exitCode, signal, durationMs, timedOut, stderrTail), or null. */
  lastFailure: Failure | null;
  onFail: ActionView[];
}

export interface ConditionView {
  name: string;
  type: ConditionRecord['type'];
  enabled: boolean;
  rearm: boolean;
  independent: boolean;
  match?: ConditionRecord['match'];
  from?: ConditionRecord['from'];
  to?: ConditionRecord['to'];
  fired: number;
  failed: number;
  lastFiredAt: string | null;
  actions: ActionView[];
}

export interface HeartbeatView {
  periodMs: number;
  missedLow: number;
  missedHigh: number;
  /** Whole periods since the last beat. */
  missed: number;
  state: 'ok' | 'missed-low' | 'missed-high';
  lastBeatMsAgo: number | null;
}

export interface HealthView {
  intervalMs: number;
  timeoutMs: number;
  signal: string;
  graceMs: number;
  /** Failures over all instances. */
  failures: number;
  /** A failure being carried out: the warning signal went, SIGKILL is due at `killAt`. */
  failing: { since: string; killAt: string; reason: string } | null;
}

/** What the monitor knows now about one entity (undefined: not watched in this process). */
export type LiveBeat = { missed: number; state: HeartbeatView['state']; lastBeatMsAgo: number } | undefined;

export interface EntityView {
  name: string;
  kind: Exclude<EntityRecord['kind'], 'global'>;
  pid: number | null;
  state: EntityState;
  restarts: number;
  deaths: number;
  instance: number;
  lastExit: ExitStatus | null;
  lastError: string | null;
  heartbeat: HeartbeatView | null;
  /** The health check its client registered, and how it went. */
  health: HealthView | null;
  conditions: ConditionView[];
  enabled: boolean;
  userState: string | null;
  argv: string[];
  cwd: string;
  keeperPid: number | null;
  startedAt: string | null;
  restartAt: string | null;
  /** The recovery policy, and the restarts counted in its intensity window. */
  restart: { backoff: EntityRecord['restartPolicy']['backoff']; intensity: EntityRecord['restartPolicy']['intensity']; nextDelayMs: number; inWindow: number };
  stop: EntityRecord['stopPolicy'];
  group: string | null;
  requires: string[];
  /** Stopped by its group's restart or a requirement that is down; it comes back by itself. */
  held: EntityRecord['held'];
}

export interface StatusView {
  ham: { pid: number | null; epoch: number; failures: number };
  guardian: { pid: number | null; failures: number };
  entities: EntityView[];
  /** Conditions on `*`, which match every entity. */
  global: { enabled: boolean; conditions: ConditionView[] } | null;
  lastSeq: number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const PARAMS = ['argv', 'env', 'cwd', 'timeoutMs', 'graceMs', 'signal', 'pid', 'path', 'delayMs', 'message', 'level'] as const;

export function actionView(a: ActionRecord): ActionView {
  const params: Record<string, unknown> = {};
  for (const k of PARAMS) if (a[k] !== undefined) params[k] = a[k];
  return {
    name: a.name,
    kind: a.kind,
    enabled: a.enabled,
    flags: (['now', 'breakOnFail', 'keepOnFail'] as const).filter((f) => a[f]),
    params,
    runs: a.runs,
    failures: a.failures,
    lastRunAt: iso(a.lastRunAt),
    lastResult: a.lastResult,
    lastError: a.lastError,
    lastFailure: a.lastFailure ?? null,
    onFail: a.onFail.map(actionView),
  };
}

export function conditionView(c: ConditionRecord): ConditionView {
  return {
    name: c.name,
    type: c.type,
    enabled: c.enabled,
    rearm: c.rearm,
    independent: c.independent,
    ...(c.match ? { match: c.match } : {}),
    ...(c.from ? { from: c.from } : {}),
    ...(c.to ? { to: c.to } : {}),
    fired: c.fired,
    failed: c.failed,
    lastFiredAt: iso(c.lastFiredAt),
    actions: c.actions.map(actionView),
  };
}

function heartbeatView(e: EntityRecord, live: LiveBeat): HeartbeatView | null {
  if (!e.heartbeat) return null;
  return { ...e.heartbeat, missed: live?.missed ?? 0, state: live?.state ?? e.heartbeatState, lastBeatMsAgo: live ? Math.round(live.lastBeatMsAgo) : null };
}

export function entityView(e: EntityRecord, live?: LiveBeat): EntityView {
  return {
    name: e.name,
    kind: e.kind === 'global' ? 'placeholder' : e.kind,
    pid: e.pid,
    state: e.state,
    restarts: e.restarts,
    deaths: e.deaths,
    instance: e.instance,
    lastExit: e.lastExit,
    lastError: e.lastError,
    heartbeat: heartbeatView(e, live),
    restart: { ...e.restartPolicy, nextDelayMs: e.backoffMs, inWindow: e.restartPolicy.intensity ? e.restartTimes.filter((t) => t > Date.now() - e.restartPolicy.intensity!.withinMs).length : 0 },
    stop: e.stopPolicy,
    group: e.group,
    requires: e.requires,
    held: e.held,
    health: e.health ? { ...e.health, failures: e.healthFailures, failing: e.healthFailing && { since: iso(e.healthFailing.at)!, killAt: iso(e.healthFailing.killAt)!, reason: e.healthFailing.reason } } : null,
    conditions: e.conditions.map(conditionView),
    enabled: e.enabled,
    userState: e.userState,
    argv: e.argv,
    cwd: e.cwd,
    keeperPid: e.keeper && e.keeper.pid > 0 ? e.keeper.pid : null,
    startedAt: iso(e.startedAt),
    restartAt: iso(e.restartAt),
  };
}
