// Missed-heartbeat detection for self-attached entities. A beat only stores a
// timestamp (no heap work, no store write), so ingesting beats is cheap. Each
// entity has at most one entry in a min-heap: its next check, at the moment a
// mark would be missed if no beat came. One timer is armed for the earliest
// check; when it fires, an entity that did beat is simply rescheduled from its
// last beat. So the heap is touched about once per deadline, not per beat.
//
// Marks fire once per episode, as in QNX: missed-low when `missedLow` periods
// pass without a beat, missed-high at `missedHigh`; only a heartbeat-healthy
// action (or a new instance) ends the episode.
import type { HeartbeatSpec, HeartbeatState } from '../model/records.js';
import { LatencyRing } from '../latency.js';

interface Tracked {
  spec: HeartbeatSpec;
  last: number;
  state: HeartbeatState;
  /** When its heap entry is due (Infinity: not in the heap). */
  due: number;
}

const MAX_TIMER_MS = 2_147_483_647;
/** A timer later than this was held up: beats may be waiting unread. */
const LATE_MS = 25;

export type Missed = (name: string, level: 'low' | 'high', lateMs: number) => void;

export class HeartbeatMonitor {
  private readonly tracked = new Map<string, Tracked>();
  private heap: { at: number; name: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  /** How late each mark fired past its deadline (ms), for the benchmark and `stats`. */
  readonly lateness = new LatencyRing();
  /** Beats accepted since start. */
  beats = 0;

  constructor(private readonly onMissed: Missed) {}

  /** Start watching (or watch again after a takeover): the window starts now. */
  track(name: string, spec: HeartbeatSpec, state: HeartbeatState, now = performance.now()): void {
    const t: Tracked = { spec, last: now, state, due: Infinity };
    this.tracked.set(name, t);
    this.schedule(name, t);
  }

  untrack(name: string): void {
    this.tracked.delete(name); // its heap entry is dropped when popped
  }

  beat(name: string, now = performance.now()): boolean {
    const t = this.tracked.get(name);
    if (!t) return false;
    t.last = now;
    this.beats++;
    return true;
  }

  /** heartbeat-healthy: the episode is over; marks may fire again. */
  reset(name: string): void {
    const t = this.tracked.get(name);
    if (!t) return;
    t.state = 'ok';
    t.last = performance.now();
    this.schedule(name, t);
  }

  view(name: string): { missed: number; state: HeartbeatState; lastBeatMsAgo: number } | undefined {
    const t = this.tracked.get(name);
    if (!t) return undefined;
    const ago = performance.now() - t.last;
    return { missed: Math.floor(ago / t.spec.periodMs), state: t.state, lastBeatMsAgo: ago };
  }

  close(): void {
    clearTimeout(this.timer);
    this.tracked.clear();
    this.heap = [];
  }

  /** Next deadline for this entity, given its state. */
  private deadline(t: Tracked): number {
    if (t.state === 'missed-high') return Infinity;
    const marks = t.state === 'ok' ? t.spec.missedLow : t.spec.missedHigh;
    return t.last + marks * t.spec.periodMs;
  }

  private schedule(name: string, t: Tracked): void {
    const at = this.deadline(t);
    if (at === Infinity || at >= t.due) return; // an earlier entry is already there
    t.due = at;
    this.push({ at, name });
    this.arm();
  }

  private arm(): void {
    const top = this.heap[0];
    if (!top || top.at >= this.armedAt) return;
    clearTimeout(this.timer);
    this.armedAt = top.at;
    // setTimeout takes at most 2^31-1 ms; a later deadline is simply checked again then.
    this.timer = setTimeout(() => this.due(top.at), Math.min(MAX_TIMER_MS, Math.max(0, top.at - performance.now())));
  }

  /**
   * A timer that fires late means a loop that was stalled (a VM pause, a long turn, SIGSTOP):
   * the timers phase runs before the sockets are read, and beats may be waiting there unread.
   * Then the marks are judged two loop hops later: after the poll phase reads them and the
   * scheduler's turn (an immediate queued then) serves them. On time, at once.
   */
  private due(at: number): void {
    if (performance.now() - at > LATE_MS) setImmediate(() => setImmediate(() => this.fire()));
    else this.fire();
  }

  private fire(): void {
    this.armedAt = Infinity;
    const now = performance.now();
    while (this.heap.length && this.heap[0]!.at <= now) {
      const { at, name } = this.pop()!;
      const t = this.tracked.get(name);
      if (!t || t.due !== at) continue; // stale entry
      t.due = Infinity;
      const deadline = this.deadline(t);
      if (deadline <= now) {
        const level = t.state === 'ok' ? 'low' : 'high';
        t.state = level === 'low' ? 'missed-low' : 'missed-high';
        this.lateness.add(now - deadline);
        this.onMissed(name, level, now - deadline);
        // missed-low fired: still check for missed-high (from the same last beat).
      }
      this.schedule(name, t);
    }
    this.arm();
  }

  private push(e: { at: number; name: string }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): { at: number; name: string } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
