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
