// A check detector: run every interval with a timeout; exit 0 is healthy.
// OCF codes (Pacemaker's monitor): 7 = not running and 1 = failed count as
// failures; 2–6 mean the check itself is misconfigured (bad arguments, not
// installed, not configured...): that is reported and the check is not run
// again until its file changes, instead of raising forever. After `tries`
// consecutive failures it raises once on its entity; when healthy again it
// publishes a state change. Its counters live in the store, so a takeover
// neither forgets a failing streak nor raises the same episode twice.
import type { DetectorSpec } from './spec.js';
import type { CheckResult } from './runner.js';

export type CheckVerdict = 'healthy' | 'failed' | 'misconfigured';

/** OCF's misconfiguration codes: args, unimplemented, permissions, not installed, not configured. */
const MISCONFIGURED = new Set([2, 3, 4, 5, 6]);

export function verdict(r: CheckResult): CheckVerdict {
  if (r.timedOut || r.code === null) return 'failed';
  if (r.code === 0) return 'healthy';
  return MISCONFIGURED.has(r.code) ? 'misconfigured' : 'failed';
}

/** What a check result means for the detector's persistent state. */
export interface CheckState {
  /** Consecutive failures. */
  failures: number;
  /** This failing episode was raised (the raise is not repeated until healthy again). */
  raised: boolean;
}

export type CheckStep =
  | { publish: 'raise'; severity: number }
  | { publish: 'recovered' }
  | { publish: null };

/** The next state and what to publish, from one result. Pure, so the rule is easy to see and test. */
export function step(spec: DetectorSpec, s: CheckState, v: CheckVerdict, code: number | null): { next: CheckState; out: CheckStep } {
  if (v === 'healthy') return { next: { failures: 0, raised: false }, out: s.raised ? { publish: 'recovered' } : { publish: null } };
  if (v === 'misconfigured') return { next: s, out: { publish: null } };
  const failures = s.failures + 1;
  if (!s.raised && failures >= spec.tries) return { next: { failures, raised: true }, out: { publish: 'raise', severity: code ?? 1 } };
  return { next: { failures, raised: s.raised }, out: { publish: null } };
}

/** A one-line account of a result, for `ham detectors` and the log. */
export function describeResult(r: CheckResult, timeoutMs: number): string {
  const how = r.timedOut ? `timed out after ${timeoutMs} ms (its process group was killed)` : r.code === null ? `killed by ${r.signal}` : r.code === 0 ? 'exit 0 (healthy)' : r.code === 7 ? 'exit 7 (not running)' : MISCONFIGURED.has(r.code) ? `exit ${r.code} (misconfigured)` : `exit ${r.code} (failed)`;
  return r.last ? `${how}: ${r.last}` : how;
}
