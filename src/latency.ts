// Latency figures for `stats` and the benchmarks, kept in a bounded ring.
// Shared by the core (first action, heartbeat lateness) and the detector host
// (stream line → conditions fired), so it belongs to neither.

export interface LatencySummary {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

/** A ring of recent latencies (ms): e.g. occurrence seen → first action started. */
export class LatencyRing {
  private readonly buf = new Float64Array(16_384);
  private n = 0;

  clear(): void {
    this.n = 0;
  }

  add(ms: number): void {
    this.buf[this.n++ % this.buf.length] = ms;
  }

  summary(): LatencySummary {
    const k = Math.min(this.n, this.buf.length);
    if (k === 0) return { count: this.n, p50: null, p90: null, p99: null, max: null };
    const s = Array.from(this.buf.subarray(0, k)).sort((a, b) => a - b);
    const q = (p: number): number => s[Math.min(k - 1, Math.floor(p * k))]!;
    return { count: this.n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[k - 1]! };
  }
}

/** Upper bounds (seconds) of the action-duration histogram's buckets (`+Inf` is implied). */
export const DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];

/** One histogram: `counts[i]` observations in bucket i alone (the last: above every bound). */
export interface DurationCounts {
  counts: number[];
  sum: number;
  count: number;
}

/** Durations by a small fixed key (an action kind): a few additions per observation, no allocation after the first. */
export class Durations {
  private readonly by = new Map<string, DurationCounts>();

  observe(key: string, seconds: number): void {
    let h = this.by.get(key);
    if (!h) this.by.set(key, (h = { counts: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    h.counts[i]! += 1;
    h.sum += seconds;
    h.count += 1;
  }

  snapshot(): Record<string, DurationCounts> {
    const out: Record<string, DurationCounts> = {};
    for (const [k, h] of this.by) out[k] = { counts: [...h.counts], sum: h.sum, count: h.count };
    return out;
  }
}
