// `ham apply --wait`: which of the entities an apply started are ready, which
// failed, judged from the event log (followed from before the apply: no
// transition missed, across takeovers) and from status snapshots. Pure, so the
// rule is easy to see and test; apply-wait.ts feeds it.
//
// The rule: a `ready` event, or a snapshot that says `ready` (without
// readiness: it runs), and the entity is ready. A death before that (a
// failed start: not ready by its timeoutMs, or it exited), or the entity
// ending `failed`, and it failed — at once, with its reason, even if a
// restart action may try again (as `systemctl start` fails with its start
// job). A snapshot is judged only once every event up to its `lastSeq` has
// been: a death it does not show any more (restarted since) still counts.
import type { EntityView, EventView } from '../protocol/views.js';

export type WaitOutcome = 'ready' | 'failed' | 'timed-out';

export interface WaitResult {
  entity: string;
  result: WaitOutcome;
  /** Its pid when it was seen ready, or the dead one's. */
  pid: number | null;
  /** What answered its readiness probe, when it has one. */
  readyText?: string | null;
  /** Why it failed, or where it was when the wait ended. */
  reason?: string;
  /** The event that decided it. */
  seq?: number;
}

interface Pending {
  view: EntityView | undefined;
  lastSeq: number;
  /** When a snapshot of it first waited for events (kept across newer snapshots). */
  since: number;
}

/** A snapshot whose events have not come after this long is judged anyway (an event no subscriber gets must not stall it). */
export const SNAPSHOT_PATIENCE_MS = 2000;

export class ReadyWait {
  private readonly decided = new Map<string, WaitResult>();
  private readonly last = new Map<string, EntityView | undefined>();
  private readonly queued = new Map<string, Pending>();
  /** The last event seen (every entity's: snapshots wait for it to reach their lastSeq). */
  seen: number;

  constructor(
    readonly targets: readonly string[],
    since: number,
  ) {
    this.seen = since;
  }

  /** The targets not decided yet. */
  undecided(): string[] {
    return this.targets.filter((t) => !this.decided.has(t));
  }

  done(): boolean {
    return this.decided.size === this.targets.length;
  }

  /** One event, in order (a replay after a reconnection may repeat some: ignored). */
  event(e: EventView): void {
    if (e.seq <= this.seen) return;
    this.seen = e.seq;
    if (this.targets.includes(e.entity) && !this.decided.has(e.entity)) {
      if (e.condition === 'ready') this.decide(e.entity, { result: 'ready', pid: e.pid ?? null, seq: e.seq, ...(e.detail ? { readyText: e.detail } : {}) });
      else if (e.condition === 'death' || e.condition === 'abnormal-death')
        this.decide(e.entity, { result: 'failed', pid: e.pid ?? null, seq: e.seq, reason: `its start failed: ${deathText(e)}` });
      else if (e.condition === 'escalate')
        this.decide(e.entity, { result: 'failed', pid: e.pid ?? null, seq: e.seq, reason: `escalated: ${e.detail ?? 'over its restart intensity'}` });
    }
    this.flush(-Infinity);
  }

  /** A status snapshot of `name` (undefined: no such entity) taken when the log's last event was `lastSeq`, at `now` (ms). */
  snapshot(name: string, view: EntityView | undefined, lastSeq: number, now: number): void {
    if (this.decided.has(name)) return;
    this.queued.set(name, { view, lastSeq, since: this.queued.get(name)?.since ?? now });
    this.flush(now);
  }

  /** The results, in the targets' order; those not decided by now timed out (`afterMs`: how long it waited). */
  results(afterMs?: number): WaitResult[] {
    return this.targets.map((t) => this.decided.get(t) ?? timedOut(t, this.last.get(t), afterMs));
  }

  private flush(now: number): void {
    for (const [name, p] of this.queued) {
      if (p.lastSeq > this.seen && now - p.since < SNAPSHOT_PATIENCE_MS) continue;
      this.queued.delete(name);
      if (this.decided.has(name)) continue;
      this.last.set(name, p.view);
      const v = p.view;
      if (!v) this.decide(name, { result: 'failed', pid: null, reason: 'it no longer exists' });
      else if (v.ready) this.decide(name, { result: 'ready', pid: v.pid, readyText: v.readyText });
      else if (v.state === 'failed')
        this.decide(name, { result: 'failed', pid: v.pid, reason: `it is failed: ${v.lastError ?? 'over its restart intensity'}` });
    }
  }

  private decide(name: string, r: Omit<WaitResult, 'entity'>): void {
    this.decided.set(name, { entity: name, ...r });
  }
}

function deathText(e: EventView): string {
  if (e.detail) return e.detail;
  if (!e.exit) return 'it died';
  return e.exit.signal ? `killed by ${e.exit.signal}` : `exited with code ${e.exit.code}`;
}

function timedOut(name: string, v: EntityView | undefined, afterMs: number | undefined): WaitResult {
  const within = afterMs === undefined ? '' : ` within ${afterMs} ms`;
  const where = v ? `${v.state}${v.held ? ` (held: ${v.held})` : ''}${v.lastError ? `; last error: ${v.lastError}` : ''}` : 'not seen';
  return { entity: name, result: 'timed-out', pid: v?.pid ?? null, reason: `not ready${within}: ${where}` };
}
