// Every default in one table: what a new entity is given, what a record
// written by an older ham lacks (the store fills it in on read), and the
// settings and policies nothing was asked for.
import type { Life } from './life.js';
import type { EntityRecord, LogPolicy, RestartPolicy, Settings, StopPolicy } from './records.js';

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  hangMs: 1000,
  detectorsDir: null,
  baseEnv: null,
  storeMaxBytes: 256 * 1024 * 1024,
  savedMaxBytes: 64 * 1024,
  allowUsers: [] as string[],
  http: null,
});

export const DEFAULT_RESTART_POLICY: Readonly<RestartPolicy> = Object.freeze({
  backoff: Object.freeze({ initialMs: 0, factor: 2, maxMs: 5000, resetAfterMs: 1000 }),
  intensity: null,
});

export const DEFAULT_STOP_POLICY: Readonly<StopPolicy> = Object.freeze({ signal: 'SIGTERM', timeoutMs: 5000 });

export const DEFAULT_LOG_POLICY: Readonly<LogPolicy> = Object.freeze({ maxBytes: 10 * 1024 * 1024, keep: 5 });

/** An entity's fields that have a default: all but what its attach names and when it was made. */
export type EntityDefaults = Omit<EntityRecord, 'id' | 'name' | 'kind' | 'argv' | 'env' | 'cwd' | 'createdAt'>;

/** Complete by its type: a field added to EntityRecord without a default here does not compile. */
export const ENTITY_DEFAULTS: Readonly<EntityDefaults> = Object.freeze({
  enabled: true,
  conditions: [],
  userState: null,
  heartbeat: null,
  health: null,
  healthFailing: null,
  healthFailures: 0,
  heartbeatState: 'ok',
  saved: null,
  life: { tag: 'idle' } as Life,
  pid: null,
  pidStart: null,
  keeper: null,
  keeperSerial: 0,
  failedStartAt: null,
  backoffMs: 0,
  restartPolicy: DEFAULT_RESTART_POLICY,
  stopPolicy: DEFAULT_STOP_POLICY,
  logs: DEFAULT_LOG_POLICY,
  restartTimes: [],
  group: null,
  requires: [],
  lastUptimeMs: null,
  instance: 0,
  restarts: 0,
  deaths: 0,
  lastExit: null,
  outputProblem: null,
  lastError: null,
  startedAt: null,
  diedAt: null,
});

/** The defaults with fresh arrays (callers mutate records; the policies are frozen and shared). */
export function entityDefaults(): EntityDefaults {
  return { ...ENTITY_DEFAULTS, conditions: [], restartTimes: [], requires: [], life: { tag: 'idle' } };
}

/** A client retries a lost HAM connection at growing intervals, up to this (client/client.ts). */
export const CLIENT_RETRY_MAX_MS = 500;
/**
 * After a takeover or a start, self-attached clients have this long beyond their period to re-attach
 * before a missed heartbeat counts: more than a client's longest retry interval (one that retried
 * while no HAM ran reconnects up to that long after the socket is back).
 */
export const REATTACH_GRACE_MS = 2 * CLIENT_RETRY_MAX_MS;
