// A detector as the host holds it while it is loaded, and what the check and
// stream loops (check-loop.ts, stream-loop.ts) need of the host that runs them.
import type { ChildProcess } from 'node:child_process';
import type { Failure } from '../errors.js';
import { FRESH, type CheckState } from './check.js';
import type { DetectorState, DetectorView } from '../protocol/views.js';
import type { HostDeps } from './host.js';
import type { CheckLog, CheckRunner } from './runner.js';
import type { DetectorSpec } from './spec.js';
import { detectorLogName } from '../model/log-names.js';

/** A refused detector is judged again this often (checks: at their interval), and runs once the problem is fixed; a running stream is judged again as often. */
export const REFUSED_RETRY_MS = 1000;

export interface Detector {
  name: string;
  path: string;
  spec: DetectorSpec | null;
  state: DetectorState;
  reason: string | null;
  runs: number;
  check: CheckState;
  episode: number;
  lastResult: string | null;
  lastFailure: Failure | null;
  lastAt: number | null;
  lastCode: number | null;
  timer: NodeJS.Timeout | undefined;
  /** A running stream is judged again this often (it has no runs to judge it at). */
  judgeTimer: NodeJS.Timeout | undefined;
  child: ChildProcess | undefined;
  crashes: number;
  badLines: number;
  dropped: number;
  /** Bumped at every (re)load and stop: callbacks of an older generation are ignored. */
  gen: number;
}

/** A detector just loaded from its file (`old`: the one it replaces, if any). */
export function freshDetector(name: string, path: string, old: Detector | undefined): Detector {
  return {
    name,
    path,
    spec: null,
    state: 'starting',
    reason: old?.state === 'refused' ? old.reason : null, // an unchanged refusal is not logged again
    runs: 0,
    check: { ...FRESH },
    episode: 0,
    lastResult: null,
    lastFailure: null,
    lastAt: null,
    lastCode: null,
    timer: undefined,
    judgeTimer: undefined,
    child: undefined,
    crashes: 0,
    badLines: 0,
    dropped: 0,
    gen: (old?.gen ?? 0) + 1,
  };
}

/** The host, as the check and stream loops see it. */
export interface HostContext {
  readonly deps: HostDeps;
  readonly closed: boolean;
  readonly runner: CheckRunner;
  readonly streamLatency: { add(ms: number): void };
  checksRun: number;
  /** Why `det` must not run now (its files or folders), or undefined. */
  judge(det: Detector): string | undefined;
  refuse(det: Detector, reason: string, state?: DetectorState): void;
  /** `fn` as a callback of `det` whose throws refuse the detector and never reach the process. */
  safely<A extends unknown[]>(det: Detector, fn: (...a: A) => void): (...a: A) => void;
  stop(det: Detector): void;
  env(det: Detector): Record<string, string>;
  /** Where `det`'s own output is kept (its log folder), with its entity's log policy and instance. */
  output(det: Detector): CheckLog;
}

export function viewOf(x: Detector): DetectorView {
  return {
    name: x.name,
    path: x.path,
    kind: x.spec?.kind ?? null,
    entity: x.spec?.entity ?? null,
    state: x.state,
    intervalMs: x.spec?.kind === 'check' ? x.spec.intervalMs : null,
    timeoutMs: x.spec?.kind === 'check' ? x.spec.timeoutMs : null,
    tries: x.spec?.kind === 'check' ? x.spec.tries : null,
    runs: x.runs,
    failures: x.check.failures,
    lastResult: x.lastResult,
    lastFailure: x.lastFailure,
    lastAt: x.lastAt === null ? null : new Date(x.lastAt).toISOString(),
    reason: x.reason,
    pid: x.child?.pid ?? null,
    badLines: x.badLines,
    dropped: x.dropped,
    output: detectorLogName(x.name),
  };
}
