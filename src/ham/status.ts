// `ham status` as data: the views (protocol/views.ts) built from the records.
import type { ActionRecord, ConditionRecord } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';
import type { ActionView, ConditionView, EntityView, HeartbeatView } from '../protocol/views.js';
import { holdOf, keptStopped, readyOf, restartAtOf, viewState } from './lifecycle.js';

/** What the monitor knows now about one entity (undefined: not watched in this process). */
export type LiveBeat = { missed: number; state: HeartbeatView['state']; lastBeatMsAgo: number } | undefined;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const PARAMS = ['argv', 'env', 'cwd', 'timeoutMs', 'graceMs', 'signal', 'pid', 'path', 'delayMs', 'message', 'level', 'user'] as const;

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
    state: viewState(e.life),
    ...(keptStopped(e.life) ? { stoppedByName: true as const } : {}),
    restarts: e.restarts,
    deaths: e.deaths,
    instance: e.instance,
    lastExit: e.lastExit,
    lastError: e.lastError,
    ...(e.outputProblem ? { outputProblem: e.outputProblem } : {}),
    lastFailure: e.lastFailure ?? null,
    heartbeat: heartbeatView(e, live),
    restart: {
      ...e.restartPolicy,
      nextDelayMs: e.backoffMs,
      inWindow: e.restartPolicy.intensity ? e.restartTimes.filter((t) => t > Date.now() - e.restartPolicy.intensity!.withinMs).length : 0,
    },
    stop: e.stopPolicy,
    group: e.group,
    requires: e.requires,
    held: holdOf(e.life),
    ready: readyOf(e.life),
    readyText: e.readyText ?? null,
    readiness: e.readiness ?? null,
    keeperReady: e.keeperReady ?? null,
    runAs: e.runAs ?? null,
    cgroup: e.cgroup ?? null,
    health: e.health
      ? {
          ...e.health,
          failures: e.healthFailures,
          failing: e.healthFailing && { since: iso(e.healthFailing.at)!, killAt: iso(e.healthFailing.killAt)!, reason: e.healthFailing.reason },
        }
      : null,
    conditions: e.conditions.map(conditionView),
    enabled: e.enabled,
    userState: e.userState,
    argv: e.argv,
    cwd: e.cwd,
    keeperPid: e.keeper && e.keeper.pid > 0 ? e.keeper.pid : null,
    startedAt: iso(e.startedAt),
    restartAt: iso(restartAtOf(e.life)),
  };
}
