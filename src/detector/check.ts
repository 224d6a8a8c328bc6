// A check detector: run every interval with a timeout; exit 0 is healthy.
// OCF codes (Pacemaker's monitor): 7 = not running and 1 = failed count as
// failures; 2–6 mean the check itself is misconfigured (bad arguments, not
// installed, not configured...): that is raised at once (class
// `detector-misconfigured`: retrying will not fix it), retried with growing
// delays, and given up after MISCONFIGURED_TRIES until the file changes. After `tries`
// consecutive failures it raises once on its entity; when healthy again it
// publishes a state change. Its counters live in the store, so a takeover
// neither forgets a failing streak nor raises the same episode twice.
import type { Failure } from '../errors.js';
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

/** Consecutive misconfigured results after which a check is not run again until its file changes. */
export const MISCONFIGURED_TRIES = 10;
const MISCONFIGURED_MAX_DELAY_MS = 600_000;

/** What a check result means for the detector's persistent state. */
export interface CheckState {
  /** Consecutive failures (misconfigured results included). */
  failures: number;
  /** This failing episode was raised (the raise is not repeated until healthy again). */
  raised: boolean;
  /** Consecutive misconfigured results. */
  misconfigured: number;
}

export const FRESH: Readonly<CheckState> = Object.freeze({ failures: 0, raised: false, misconfigured: 0 });

export type CheckStep = { publish: 'raise'; severity: number; class: 'detector' | 'detector-misconfigured' } | { publish: 'recovered' } | { publish: null };

/** The next state and what to publish, from one result. Pure, so the rule is easy to see and test. */
export function step(spec: DetectorSpec, s: CheckState, v: CheckVerdict, code: number | null): { next: CheckState; out: CheckStep } {
  if (v === 'healthy') return { next: { ...FRESH }, out: s.raised ? { publish: 'recovered' } : { publish: null } };
  const failures = s.failures + 1;
  const misconfigured = v === 'misconfigured' ? s.misconfigured + 1 : 0;
  // A misconfigured check says so at once; a failing one after `tries` in a row.
  if (!s.raised && (v === 'misconfigured' || failures >= spec.tries))
    return {
      next: { failures, raised: true, misconfigured },
      out: { publish: 'raise', severity: code ?? 1, class: v === 'misconfigured' ? 'detector-misconfigured' : 'detector' },
    };
  return { next: { failures, raised: s.raised, misconfigured }, out: { publish: null } };
}

/** When to run next: the interval, or growing delays while misconfigured; null: not again until the file changes. */
export function nextDelay(spec: DetectorSpec, s: CheckState): number | null {
  if (s.misconfigured === 0) return spec.intervalMs;
  if (s.misconfigured >= MISCONFIGURED_TRIES) return null;
  return Math.min(spec.intervalMs * 2 ** s.misconfigured, MISCONFIGURED_MAX_DELAY_MS);
}

/** A one-line account of a result, for `ham detectors` and the log. */
export function describeResult(r: CheckResult, timeoutMs: number): string {
  const how = r.timedOut
    ? `timed out after ${timeoutMs} ms (its process group was killed)`
    : r.code === null
      ? `killed by ${r.signal}`
      : r.code === 0
        ? 'exit 0 (healthy)'
        : r.code === 7
          ? 'exit 7 (not running)'
          : MISCONFIGURED.has(r.code)
            ? `exit ${r.code} (misconfigured)`
            : `exit ${r.code} (failed)`;
  return r.last ? `${how}: ${r.last}` : how;
}

/** A result that is not healthy, as data (null when healthy): what ran, how it ended, how long it took, its last line. */
export function checkFailure(argv: string[], r: CheckResult): Failure | null {
  if (verdict(r) === 'healthy') return null;
  return { argv, exitCode: r.code, signal: r.signal, durationMs: r.ms, timedOut: r.timedOut, ...(r.last ? { lastLine: r.last } : {}) };
}
