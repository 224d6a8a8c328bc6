// The client library (what libham and corosync SAM give an application).
// It reconnects by itself when the HAM changes hands, re-attaches its
// self-attached entities (a re-attach counts as a beat, so no beat is lost to
// a takeover) and resumes its subscriptions after the last event delivered:
// no loss, no duplicates.
import { randomUUID } from 'node:crypto';
import { HamError } from '../model/errors.js';
import { CLIENT_RETRY_MAX_MS } from '../model/defaults.js';
import type { EventView } from '../protocol/views.js';
import { homePaths, resolveHome } from '../model/home-paths.js';
import type { Op, RequestArgs } from '../protocol/requests.js';
import type { Reply } from '../protocol/responses.js';
import type { StatusView } from '../protocol/views.js';
import { Connection } from './connection.js';
import { eventsAll, statusAll } from './pages.js';

export interface AttachOptions {
  /** Commit to a heartbeat every this many ms (omit: no heartbeat monitoring). */
  heartbeatMs?: number;
  /** Periods missed before heartbeat-missed-low (default 3). */
  missedLow?: number;
  /** Periods missed before heartbeat-missed-high (default 2 × missedLow). */
  missedHigh?: number;
  /** A health check the HAM calls; a failure gets the warning signal, then SIGKILL. */
  healthCheck?: HealthCheckOptions;
}

export interface HealthCheckOptions {
  /** The HAM calls `check` every this many ms. */
  intervalMs: number;
  /** An answer later than this is a failure (default: intervalMs). */
  timeoutMs?: number;
  /** Sent first on a failure (default SIGTERM)... */
  signal?: NodeJS.Signals;
  /** ...then SIGKILL after this many ms (default 5000). */
  graceMs?: number;
  /** Healthy: true. False, a throw or a rejection is a failure (its message is kept). */
  check: () => boolean | Promise<boolean>;
}

export interface EventFilter {
  entity?: string;
  condition?: string;
}

export interface Subscription {
  /** The last sequence number delivered. */
  readonly lastSeq: number;
  close(): void;
}

const RETRY_MS = 10;
const RETRY_MAX_MS = CLIENT_RETRY_MAX_MS;

export class HamClient {
  private conn: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private closed = false;
  private readonly selves = new Map<string, SelfHandle>();
  private readonly subs = new Set<Sub>();

  constructor(private readonly socket: string) {}

  /** Connected, or reconnecting until it is (a takeover takes tens of ms). */
  async connection(): Promise<Connection> {
    if (this.conn && !this.conn.closed) return this.conn;
    if (this.closed) throw new HamError({ code: 'not-running', message: 'this client is closed' });
    this.connecting ??= this.reconnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async reconnect(): Promise<Connection> {
    // Fast at first (a takeover takes tens of ms), then gently while no HAM runs at all.
    let wait = RETRY_MS;
    for (;;) {
      if (this.closed) throw new HamError({ code: 'not-running', message: 'this client is closed' });
      try {
        const c = await Connection.open(this.socket, 1000);
        c.onCall((call) => {
          if (call.op === 'health-check') this.selves.get(call.name)?.answer(c, call.call);
        });
        c.onClose(() => {
          // Reconnect by itself after a takeover or a cut-off, not after a refusal (it would be refused again).
          if (this.conn === c && !this.closed && !permanent(c.failure)) void this.connection().catch(() => undefined);
        });
        // Re-attach and re-subscribe before anyone else uses it. One that is
        // refused (say, the name is taken now) is dropped; the others go on.
        for (const [name, h] of this.selves) {
          try {
            await h.reattach(c);
          } catch (e) {
            if (c.closed) throw e;
            h.lost = HamError.from(e);
            this.selves.delete(name);
          }
        }
        for (const s of this.subs) await s.start(c);
        this.conn = c;
        return c;
      } catch (e) {
        if (!transient(e)) throw e;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, RETRY_MAX_MS);
      }
    }
  }

  /** A request; across a takeover it waits for the new HAM and is sent again (for at most `deadlineMs`). */
  async request<O extends Op>(op: O, args: Partial<RequestArgs<O>>, deadlineMs = 30_000): Promise<Reply<O>> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const c = await Promise.race([
        this.connection(),
        new Promise<never>((_, reject) =>
          setTimeout(
            () => reject(new HamError({ code: 'not-running', message: `no HAM answered within ${deadlineMs} ms` })),
            Math.max(0, deadline - Date.now()),
          ).unref(),
        ),
      ]);
      try {
        return await c.request(op, args);
      } catch (e) {
        if (!(e instanceof HamError) || e.code !== 'not-running' || this.closed) throw e;
      }
    }
  }

  /** `ham status` as one object with every entity (the HAM sends it in pages). */
  status(name?: string): Promise<StatusView> {
    return statusAll({ request: (op, args) => this.request(op, args ?? {}) }, name);
  }

  /** Events after `since` (default 0), at most `limit` (default 1000), oldest first. */
  async events(args: { since?: number; limit?: number; entity?: string; condition?: string } = {}): Promise<EventView[]> {
    const out: EventView[] = [];
    await eventsAll({ request: (op, a) => this.request(op, a ?? {}) }, args, (page) => out.push(...page));
    return out;
  }

  /** Attach this process as entity `name`. */
  async attachSelf(name: string, opts: AttachOptions = {}): Promise<SelfHandle> {
    const h = new SelfHandle(this, name, opts);
    await h.reattach(await this.connection());
    this.selves.set(name, h);
    return h;
  }

  /** Events matching `filter`, in order, from now on (or after `since`). */
  async subscribe(filter: EventFilter, handler: (e: EventView) => void, since?: number): Promise<Subscription> {
    const s = new Sub(filter, handler, since, () => this.resubscribe(s));
    await s.start(await this.connection());
    this.subs.add(s);
    return {
      get lastSeq() {
        return s.lastSeq;
      },
      close: () => {
        s.closed = true;
        this.subs.delete(s);
      },
    };
  }

  /** The HAM ended a subscription (it fell behind): resume it from its last event. */
  private resubscribe(s: Sub): void {
    if (this.closed || s.closed) return;
    void this.connection()
      .then((c) => s.start(c))
      .catch(() => undefined); // a reconnect re-subscribes it anyway
  }

  /** @internal */
  forget(name: string): void {
    this.selves.delete(name);
  }

  /** @internal the current connection, if any (beats are not queued: a re-attach is a beat). */
  current(): Connection | undefined {
    return this.conn && !this.conn.closed ? this.conn : undefined;
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
  }
}

class Sub {
  lastSeq = 0;
  closed = false;
  private active = false;

  constructor(
    private readonly filter: EventFilter,
    private readonly handler: (e: EventView) => void,
    since: number | undefined,
    private readonly onEnd: () => void,
  ) {
    if (since !== undefined) this.lastSeq = since;
    this.active = since !== undefined;
  }

  async start(c: Connection): Promise<void> {
    const args = { ...this.filter, ...(this.active ? { since: this.lastSeq } : {}) };
    const r = await c.subscribe(
      args,
      (e) => {
        if (this.closed || e.seq <= this.lastSeq) return; // closed, or delivered before a reconnect
        this.lastSeq = e.seq;
        this.handler(e);
      },
      () => this.onEnd(),
    );
    if (!this.active) {
      this.lastSeq = Math.max(this.lastSeq, r.since);
      this.active = true;
    }
  }
}

/** What `attachSelf` returns. */
export class SelfHandle {
  /** How many times this entity has been started (1 for the first). */
  instance = 0;
  /** Set when a re-attach after a reconnect was refused: this handle no longer speaks for the entity. */
  lost: HamError | undefined;
  private saved: unknown = null;

  constructor(
    private readonly client: HamClient,
    readonly name: string,
    private readonly opts: AttachOptions,
  ) {}

  /** @internal (re)attach on a connection: a new HAM learns of us again. */
  async reattach(c: Connection): Promise<void> {
    const { healthCheck, ...beats } = this.opts;
    const health = healthCheck && {
      intervalMs: healthCheck.intervalMs,
      timeoutMs: healthCheck.timeoutMs,
      signal: healthCheck.signal,
      graceMs: healthCheck.graceMs,
    };
    const r = await c.request('self-attach', {
      name: this.name,
      pid: process.pid,
      ...beats,
      ...(health ? { health: dropUndefined(health) as RequestArgs<'self-attach'>['health'] } : {}),
    });
    this.instance = r.instance;
    this.saved = r.saved;
  }

  /** @internal the HAM asks: run the check and answer on the connection that asked. */
  answer(c: Connection, call: number): void {
    const check = this.opts.healthCheck?.check;
    if (!check) return;
    const reply = (healthy: boolean, message?: string): void =>
      c.notify('health-reply', { name: this.name, call, healthy, ...(message ? { message: message.slice(0, 1024) } : {}) });
    Promise.resolve()
      .then(check)
      .then(
        (ok) => reply(ok === true, ok === true ? undefined : `the check returned ${describeValue(ok)}`),
        (e: unknown) => reply(false, `the check threw: ${e instanceof Error ? e.message : String(e)}`),
      );
  }

  /** One beat. Cheap (a notification, no reply); during a takeover the re-attach stands for it. */
  heartbeat(): void {
    this.client.current()?.notify('beat', { name: this.name });
  }

  /** Raise an event on this entity. Sent again across a takeover, it still happens once (an idempotency key). */
  raise(r: { type: string; class?: string; severity?: number }): Promise<number> {
    return this.client.request('raise', { entity: this.name, ...r, key: newKey() }).then((x) => x.seq);
  }

  /** Report this entity's state (once, as `raise`). */
  state(state: string): Promise<number> {
    return this.client.request('state', { entity: this.name, state, key: newKey() }).then((x) => x.seq);
  }

  /** Keep a value for the next instance of this entity. */
  async store(value: unknown): Promise<void> {
    await this.client.request('store', { name: this.name, value });
    this.saved = value;
  }

  /** What the previous instance stored (or this one, since). */
  async restore(): Promise<unknown> {
    return (await this.client.request('restore', { name: this.name })).value;
  }

  async detach(): Promise<void> {
    this.client.forget(this.name);
    await this.client.request('self-detach', { name: this.name });
  }
}

/** Connect to the HAM serving a home (`home`, else HAM_HOME, else the default). */
export async function connect(opts: { home?: string } = {}): Promise<HamClient> {
  const client = new HamClient(homePaths(resolveHome(opts.home)).socket);
  await client.connection();
  return client;
}

/** io causes worth another try: a full listen backlog while many reconnect (EAGAIN), a reset. */
const TRANSIENT_IO = new Set(['EAGAIN', 'ECONNRESET', 'EPIPE']);

/** A failure to connect that may pass: no HAM yet (a takeover), no answer yet, or a transient io error. */
function transient(e: unknown): boolean {
  if (!(e instanceof HamError)) return false;
  if (e.code === 'not-running' || e.code === 'timeout') return true;
  return e.code === 'io' && e.causeText !== undefined && TRANSIENT_IO.has(e.causeText);
}

/** The HAM said this connection is not wanted (its user may not use it): trying again changes nothing. */
function permanent(failure: HamError | undefined): boolean {
  return failure?.code === 'refused';
}

/** Unique per request: this process, and a random part (a pid is reused; a UUID is not). */
function newKey(): string {
  return `${process.pid}:${randomUUID()}`;
}

function describeValue(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return typeof v;
  }
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
