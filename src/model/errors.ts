// One error shape for every failure, the same over the wire and in the CLI:
// what went wrong (code + message), which entity, its exit, and the cause.
// A plain class over the model's records: every layer (the store, the client
// and the CLI included) may throw and read it.
import type { Failure, Issue } from './failures.js';
import type { ExitStatus } from './records.js';

export const ERROR_CODES = [
  'bad-request', // a request that does not match its schema
  'bad-frame', // bytes on the socket that are not a frame of msgpack
  'frame-too-large',
  'unknown-command',
  'unknown-entity',
  'duplicate-entity',
  'unknown-condition',
  'duplicate-condition',
  'unknown-action',
  'duplicate-action',
  'not-running', // nothing serves this home
  'already-running',
  'fenced', // this process lost the HAM role
  'spawn-failed',
  'stopping',
  'bad-detector', // a detector's header or sidecar is wrong
  'refused-detector', // a detector file others could write, or not executable
  'unsafe-home', // something in the home that is not ham's own (another user's, a link, writable by others)
  'timeout',
  'not-ready', // `ham apply --wait`: what the apply started did not become ready (failed, or not in time)
  'permission-denied', // the control socket (or the home) may not be opened by this user
  'too-large', // a value over its configured limit (a saved state)
  'store-full', // the store is at its configured limit: user-driven growth is refused
  'refused', // a peer the control socket does not serve (another user)
  'too-slow', // a client that does not read its replies, cut off
  'not-found', // an HTTP path the listener does not serve
  'unauthorized', // an HTTP request without the listener's token, or with another
  'io',
  'cluster-unreachable', // etcd did not answer at any endpoint of the `cluster:` block
  'node-taken', // a node name another live node of the cluster holds
  'not-in-cluster', // a cluster request to a HAM that joined none
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface HamErrorShape {
  code: ErrorCode;
  message: string;
  entity?: string;
  exit?: ExitStatus;
  cause?: string;
  /** Every problem found (a request or a file that does not validate), as data; `message` says the same for humans. */
  issues?: Issue[];
  /** What failed to run, as data (a command that could not be started: argv, startError). */
  failure?: Failure;
}

export class HamError extends Error {
  readonly code: ErrorCode;
  readonly entity: string | undefined;
  readonly exit: ExitStatus | undefined;
  readonly causeText: string | undefined;
  readonly issues: Issue[] | undefined;
  readonly failure: Failure | undefined;

  constructor(shape: HamErrorShape) {
    super(shape.message);
    this.name = 'HamError';
    this.code = shape.code;
    this.entity = shape.entity;
    this.exit = shape.exit;
    this.causeText = shape.cause;
    this.issues = Array.isArray(shape.issues) ? shape.issues.filter(isIssue) : undefined;
    this.failure = typeof shape.failure === 'object' && shape.failure !== null && !Array.isArray(shape.failure) ? shape.failure : undefined;
  }

  toShape(): HamErrorShape {
    const s: HamErrorShape = { code: this.code, message: this.message };
    if (this.entity !== undefined) s.entity = this.entity;
    if (this.exit !== undefined) s.exit = this.exit;
    if (this.causeText !== undefined) s.cause = this.causeText;
    if (this.issues !== undefined) s.issues = this.issues;
    if (this.failure !== undefined) s.failure = this.failure;
    return s;
  }

  /** Any thrown value, as a HamError (unexpected ones become `internal`). */
  static from(err: unknown): HamError {
    if (err instanceof HamError) return err;
    if (isShape(err)) return new HamError(err);
    const e = err as NodeJS.ErrnoException;
    const message = e instanceof Error ? e.message : String(err);
    return new HamError({ code: e?.code ? 'io' : 'internal', message, cause: e?.code });
  }
}

/** An issue as it may come off the wire: its strings checked, nothing else kept. */
function isIssue(v: unknown): v is Issue {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.path === 'string' && typeof o.expected === 'string' && (o.got === undefined || typeof o.got === 'string');
}

function isShape(v: unknown): v is HamErrorShape {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.message === 'string' && (ERROR_CODES as readonly unknown[]).includes(o.code);
}

/** One line for humans: `unknown-entity: no entity "web" (entity web)`. */
export function formatError(e: HamErrorShape): string {
  const parts = [`${e.code}: ${e.message}`];
  if (e.exit) parts.push(`exit ${e.exit.signal ?? e.exit.code}`);
  if (e.cause) parts.push(`cause: ${e.cause}`);
  return parts.join('; ');
}

/** A short, safe rendering of a value that came from outside, for messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return typeof v === 'object' ? 'an object' : typeof v;
}
