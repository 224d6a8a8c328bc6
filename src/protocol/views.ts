// What the HAM answers, as clients see it (the JSON contract in DESIGN.md):
// the types only. The core builds them from its records (ham/status.ts,
// ham/events.ts, ham/pages.ts, detector/host.ts); the client library and the
// CLI read them without importing the daemon.
import type { KeeperReadiness, ReadinessSpec } from '../model/readiness.js';
import type { RunAs } from '../model/runas.js';
import type { Failure } from '../model/failures.js';
import type { LatencySummary } from '../latency.js';
import type { ActionRecord, ConditionRecord, EventRecord } from '../model/conditions.js';
import type { StoreUse } from '../model/limits.js';
import type { HoldReason } from '../model/life.js';
import type { EntityRecord, EntityState, ExitStatus } from '../model/records.js';

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

export interface EntityView {
  name: string;
  kind: Exclude<EntityRecord['kind'], 'global'>;
  pid: number | null;
  state: EntityState;
  /** Stopped (or being stopped) by `ham stop NAME`: it stays so until `ham start NAME`. */
  stoppedByName?: true;
  restarts: number;
  deaths: number;
  instance: number;
  lastExit: ExitStatus | null;
  /** Present when its output is not kept (the log folder could not be used; README "Output"). */
  outputProblem?: string;
  lastError: string | null;
  /** Why the last start failed, as data (argv, startError: an errno name such as ENOENT), or null; cleared when it runs again. */
  lastFailure: Failure | null;
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
  held: HoldReason | null;
  /** Running and ready (without readiness: once it runs); until then it is `starting`. */
  ready: boolean;
  /** What answered its readiness probe (this instance), or null. */
  readyText: string | null;
  /** How it tells it is ready, or null (ready once it runs). */
  readiness: ReadinessSpec | null;
  /** Who its command runs as, with what limits (README "Running as"); null: as the HAM. */
  runAs: RunAs | null;
  /** Its cgroup (README "cgroups"), or null. */
  cgroup: string | null;
  /** What its keeper said (notify, fd): STATUS text, reloading, stopping, ignored datagrams, an extended deadline; null: nothing. */
  keeperReady: KeeperReadiness | null;
}

export interface StatusView {
  /** `keeper`: which keeper new entities get (`perl`: the fallback, no C compiler at install). */
  ham: { pid: number | null; epoch: number; failures: number; keeper?: 'c' | 'perl' };
  guardian: { pid: number | null; failures: number };
  entities: EntityView[];
  /** Conditions on `*`, which match every entity. */
  global: { enabled: boolean; conditions: ConditionView[] } | null;
  lastSeq: number;
}

export interface PairView {
  ham: StatusView['ham'];
  guardian: StatusView['guardian'];
}

/** One page of `ham status` (the client assembles the pages: client/pages.ts). */
export interface StatusPage extends StatusView {
  /** Pass as `after` for the next page; null: this was the last. */
  next: string | null;
  store: StoreUse;
  /** The HAM's open-files limit and what the entities need (a life FIFO each); absent where unknown or unlimited. */
  openFiles?: { limit: number; needed: number };
}

/** An event as clients see it (DESIGN.md): seq first, ISO time, the condition type as `condition`. */
export type EventView = Omit<EventRecord, 'time' | 'type' | 'key'> & {
  time: string;
  condition: EventRecord['type'];
  /** Fired conditions beyond those listed (store/limits.ts bounds the list). */
  firedMore?: number;
};

export interface EventsPage {
  events: EventView[];
  lastSeq: number;
  /** Not done yet (the scan or the page was full): ask again with `since: next`. Null: no more. */
  next: number | null;
}

export type DetectorState = 'starting' | 'running' | 'healthy' | 'failing' | 'misconfigured' | 'refused' | 'crashed';

export interface DetectorView {
  name: string;
  path: string;
  kind: 'check' | 'stream' | null;
  entity: string | null;
  state: DetectorState;
  intervalMs: number | null;
  timeoutMs: number | null;
  tries: number | null;
  runs: number;
  /** Consecutive failures (checks). */
  failures: number;
  lastResult: string | null;
  /** The last unhealthy result as data (argv, exitCode, signal, durationMs, timedOut, lastLine); null once healthy. */
  lastFailure: Failure | null;
  lastAt: string | null;
  /** Why it is refused or not run. */
  reason: string | null;
  pid: number | null;
  /** Stream lines that were not events, and events dropped over the rate. */
  badLines: number;
  dropped: number;
  /** The name its own output is kept under: `ham logs NAME/=detector` (a check's stdout and stderr, a stream's stderr). */
  output: string;
}

export interface DetectorsView {
  dir: string;
  refused: string | null;
  detectors: DetectorView[];
}

/** What `apply` did (or would do, dry run) to one entity. */
export interface Change {
  entity: string;
  change: 'created' | 'updated' | 'unchanged';
  details: string[];
}

export interface StatsView {
  /** Sampled between a `loop: 'start'` and a `loop: 'stop'` request only. */
  loopDelayMs: { p50: number; p99: number; max: number; count: number } | undefined;
  detectors: { checksRun: number; streamLatencyMs: LatencySummary };
  firstActionLatencyMs: LatencySummary;
  heartbeatLatenessMs: LatencySummary;
  beats: number;
  healthChecks: { passed: number; failed: number };
  /** The keepers' inbox: sweeps run, and whether one is armed (tests wait for a quiet inbox). */
  inbox: { sweeps: number; sweepPending: boolean };
  entities: number;
  lastSeq: number;
  rssBytes: number;
  control: {
    connections: number;
    refused: number;
    cutOff: number;
    badFrames: number;
    yields: number;
    inFlight: number;
    queuedBytes: number;
    peakInFlight: number;
    peakQueuedBytes: number;
  };
}
