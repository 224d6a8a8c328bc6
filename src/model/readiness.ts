// Readiness (issue 13): how the HAM learns that a started entity can serve.
// Until then it is `starting`; its dependants and the next member of its
// group wait. The probes run in ham/readiness.ts; the schema is in
// ham/readiness-schema.ts.

/** What answers when the entity is ready: a TCP connect, an HTTP 2xx/3xx, a command that exits 0. */
export type ReadinessProbe =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'http'; url: string }
  | { kind: 'command'; argv: string[] }
  /** sd_notify through the keeper (keeper-ready.c): READY=1; WATCHDOG=1 beats every `watchdogMs` when set. */
  | { kind: 'notify'; watchdogMs: number | null }
  /** s6 style through the keeper: a newline written on fd `fd`. */
  | { kind: 'fd'; fd: number };

/** The kinds the keeper answers (the HAM probes the others). */
export const keeperSide = (p: ReadinessProbe): p is Extract<ReadinessProbe, { kind: 'notify' | 'fd' }> => p.kind === 'notify' || p.kind === 'fd';

/** What the keeper last said of an instance's readiness (notify, fd), as `ham status NAME` shows it. */
export interface KeeperReadiness {
  /** STATUS= text (bounded: READY_TEXT_MAX). */
  status: string;
  /** RELOADING=1 seen, and no READY=1 since: a reload is under way. */
  reloading: boolean;
  /** STOPPING=1 seen. */
  stopping: boolean;
  /** Datagrams ignored by its keeper: from another process, or malformed. */
  ignored: number;
  /** EXTEND_TIMEOUT_USEC= moved its readiness deadline to this (epoch ms); null: not extended. */
  extendedTo: number | null;
  /** RELOADING=1 seen by its keeper, and that count at its last READY=1 (a reload's end: `ham reload --wait`). */
  reloads?: number;
  reloaded?: number;
}

export interface ReadinessSpec {
  probe: ReadinessProbe;
  /** Not ready this long after its start: a failed start (its process group is stopped; its death conditions apply). */
  timeoutMs: number;
  /** Between the end of one probe and the start of the next. */
  intervalMs: number;
  /** One probe's own deadline (never past the start's). */
  attemptMs: number;
}

export const READINESS_DEFAULTS = { timeoutMs: 30_000, intervalMs: 250, attemptMs: 2000 } as const;

/** The bound on the status text a probe (or, later, a keeper record) leaves. */
export const READY_TEXT_MAX = 256;
