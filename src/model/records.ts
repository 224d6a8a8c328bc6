// What the store holds, and what every layer reads of it (the model imports
// nothing of ours). Values are msgpackr-encoded by lmdb.
import type { HttpSetting } from './http.js';
import type { ConditionRecord } from './conditions.js';
import type { Failure } from './failures.js';
import type { Life } from './life.js';
import type { KeeperReadiness, ReadinessSpec } from './readiness.js';
import type { RunAs } from './runas.js';

export type { EntityState } from './life.js';

/** A process: a pid alone can be reused, pid + start time (clock ticks since boot) cannot (see proc/procfs.ts). */
export interface ProcId {
  pid: number;
  start: number;
}

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitStatus {
  code: number | null;
  signal: string | null;
}

/** Who holds which role; changed only by compare-and-set on `epoch`. */
export interface Roles {
  /** Bumped in the same transaction in which a process takes the HAM role. */
  epoch: number;
  ham: ProcId | null;
  guardian: ProcId | null;
  hamFailures: number;
  guardianFailures: number;
  /** Set by `ham stop`: a Guardian that sees it does not take over. */
  stopping: boolean;
  /** The last takeover, written with its event in the CAS; `logged` once its log line is out. */
  takeover?: TakeoverNote | null;
}

export interface TakeoverNote {
  epoch: number;
  /** Its `takeover` event. */
  seq: number;
  at: number;
  reason: string;
  by: number;
  oldHam: number | null;
  logged: boolean;
}

export interface Settings {
  /** A partner silent for longer than this is hung: killed and replaced. */
  hangMs: number;
  /** The detectors folder; null: `<home>/detectors`. */
  detectorsDir: string | null;
  /** What entities, execute actions and detector checks start from; fixed at the first `ham start` (null: not yet). */
  baseEnv: Record<string, string> | null;
  /** The store's size limit: user-driven growth is refused (store-full) well before it (see store/limits.ts). */
  storeMaxBytes: number;
  /** At most this many bytes (encoded) per saved state (`store` / `store(value)`). */
  savedMaxBytes: number;
  /** Users (names or uids) besides the HAM's own and root that may use the control socket. */
  allowUsers: string[];
  /** `ham start --http`: the read-only HTTP listener whichever process is the HAM binds; null: none. */
  http: HttpSetting | null;
}

/** `global` is the entity `*`: its conditions match every entity. */
export type EntityKind = 'spawned' | 'pid' | 'self' | 'placeholder' | 'global';

/** A self-attached entity's commitment to beat, and where it stands. */
export interface HeartbeatSpec {
  periodMs: number;
  missedLow: number;
  missedHigh: number;
}
export type HeartbeatState = 'ok' | 'missed-low' | 'missed-high';

/** A health check the client registered: the HAM calls it every `intervalMs`. */
export interface HealthSpec {
  intervalMs: number;
  timeoutMs: number;
  /** Sent first when a check fails; SIGKILL follows after `graceMs`. */
  signal: string;
  graceMs: number;
}

/** A failed health check being carried out: kept so a takeover finishes it on time. */
export interface HealthFailing {
  at: number;
  /** Epoch ms at which the process is SIGKILLed if it is still there. */
  killAt: number;
  pid: number;
  pidStart: number;
  reason: string;
}
export const GLOBAL = '*';

/** How an entity is restarted (issue 6); see ham/backoff.ts. */
export interface RestartPolicy {
  backoff: { initialMs: number; factor: number; maxMs: number; resetAfterMs: number };
  /** At most `max` restarts within `withinMs`; one more escalates and the entity ends `failed`. */
  intensity: { max: number; withinMs: number } | null;
}

/** How an entity is stopped: `signal`, then SIGKILL of its process group after `timeoutMs`. */
export interface StopPolicy {
  signal: string;
  timeoutMs: number;
  /** What `ham reload NAME` sends its process (apply's `reloadSignal`; absent: SIGHUP). */
  reloadSignal?: string;
}

/** The tiny parent of an entity, and how far the HAM has read its records. */
export interface KeeperRef extends ProcId {
  serial: number;
  /** Last record of this keeper applied to the store (records are idempotent by seq). */
  lastSeq: number;
  /** Started with an older definition (an apply changed it since): no standing order, replaced at the next start (ham/stale-keeper.ts). */
  stale?: boolean;
}

/** How an entity's captured output is kept (the keeper rotates it). */
export interface LogPolicy {
  maxBytes: number;
  keep: number;
}

export interface EntityRecord {
  id: number;
  name: string;
  kind: EntityKind;
  /** Empty for placeholders, the global entity, and pids attached without a command. */
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  enabled: boolean;
  conditions: ConditionRecord[];
  /** One-shot conditions a restart pruned, as declared (ham/spent-conditions.ts). Absent in records of an older ham. */
  spentConditions?: { name: string; spec: string }[];
  /** The last state the entity (or a detector) reported with `ham state`. */
  userState: string | null;
  /** Self-attached with heartbeats: the commitment; null otherwise. */
  heartbeat: HeartbeatSpec | null;
  /** The health check its client registered (this instance only); null otherwise. */
  health: HealthSpec | null;
  healthFailing: HealthFailing | null;
  /** Health checks failed, over all instances. */
  healthFailures: number;
  /** Written when it changes (not at every beat): missed-low/high fire once per episode. */
  heartbeatState: HeartbeatState;
  /** A value the entity stored for its next instance (`store()` / `restore()`). */
  saved: unknown;
  /** Its lifecycle (model/life.ts): the state, and what that state holds. Hams before it stored eight fields (store/upgrade.ts). */
  life: Life;
  pid: number | null;
  pidStart: number | null;
  keeper: KeeperRef | null;
  /** Keeper serials handed out so far; a new keeper gets the next one. */
  keeperSerial: number;
  /** When a (re)start last failed to exec (the restart action fails on it). */
  failedStartAt: number | null;
  backoffMs: number;
  restartPolicy: RestartPolicy;
  stopPolicy: StopPolicy;
  /** Its output's log (README "Output"): rotated at maxBytes, keeping `keep` older files. */
  logs: LogPolicy;
  /** Restarts decided within the intensity window (epoch ms). */
  restartTimes: number[];
  /** Its group (whose strategy decides what its restart takes along), and what it requires. */
  group: string | null;
  requires: string[];
  /** How long the last instance ran before it died (for backoff). */
  lastUptimeMs: number | null;
  instance: number;
  restarts: number;
  deaths: number;
  lastExit: ExitStatus | null;
  /** Why its keeper could not keep its output (the log folder), as it said at its start; null: kept. */
  outputProblem: string | null;
  lastError: string | null;
  /** The last start that failed, as data (argv, startError: an errno name); cleared by the next instance. Absent in records of an older ham. */
  lastFailure?: Failure;
  /** How it tells it is ready (absent or null: ready once it runs). Absent in records of an older ham. */
  readiness?: ReadinessSpec | null;
  /** Who its command runs as, with what limits (README "Running as"); absent or null: as the HAM. */
  runAs?: RunAs | null;
  /** Its cgroup's path while it has one (README "cgroups"): a stop kills what is left there, removal removes it. Absent in records of an older ham. */
  cgroup?: string | null;
  /** What answered when this instance became ready (a probe's answer); cleared by the next instance. */
  readyText?: string | null;
  /** The process group its command leads (`instance`: this instance only), kept once MAINPID= named another process: a stop signals both. Absent in records of an older ham. */
  mainGroup?: { instance: number; pgid: number } | null;
  /** What its keeper last said of this instance's readiness (notify, fd); cleared by the next instance. */
  keeperReady?: KeeperReadiness | null;
  startedAt: number | null;
  diedAt: number | null;
  createdAt: number;
}

/** How a group's members restart together (ham/topology.ts). */
export const STRATEGIES = ['one-for-one', 'one-for-all', 'rest-for-one'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export interface GroupSpec {
  strategy: Strategy;
}
