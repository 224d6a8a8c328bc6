// Running a check detector: one run at a time, the next at its interval (or
// later while misconfigured); each result steps its streak (check.ts), which
// is written to the store before anything is published, so a takeover keeps
// the streak and publishes a decided event exactly once.
import { HamError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { Occurrence } from '../model/conditions.js';
import type { DetectorRecord } from '../store/store.js';
import { checkFailure, describeResult, MISCONFIGURED_TRIES, nextDelay, step, verdict } from './check.js';
import { mtime } from './folder.js';
import type { Detector, HostContext } from './loaded.js';
import type { CheckResult } from './runner.js';

export function runCheck(host: HostContext, det: Detector, gen: number): void {
  const spec = det.spec!;
  const started = performance.now();
  const again = (ms: number): void => {
    det.timer = setTimeout(
      host.safely(det, () => runCheck(host, det, gen)),
      ms,
    );
  };
  // Judged again at every run: a file or folder made writable by others since it was loaded is not run.
  const refused = host.judge(det);
  if (refused) {
    host.refuse(det, refused);
    return again(spec.intervalMs);
  }
  host.runner.run([det.path, ...spec.args], host.env(det), spec.timeoutMs, host.output(det)).then(
    host.safely(det, (r: CheckResult) => {
      if (det.gen !== gen) return;
      checked(host, det, r);
      const delay = nextDelay(spec, det.check);
      if (delay === null) return; // misconfigured too many times: not run again until the file changes
      again(Math.max(0, delay - (performance.now() - started)));
    }),
    host.safely(det, (e: Error) => {
      if (det.gen !== gen || host.closed) return;
      det.lastResult = `not run: ${e.message}`;
      det.lastAt = Date.now();
      again(spec.intervalMs);
    }),
  );
}

function checked(host: HostContext, det: Detector, r: CheckResult): void {
  const { store, log, write } = host.deps;
  const spec = det.spec!;
  const v = verdict(r);
  det.runs += 1;
  host.checksRun += 1;
  det.lastCode = r.code;
  det.lastAt = Date.now();
  det.lastResult = describeResult(r, spec.timeoutMs);
  det.lastFailure = checkFailure([det.path, ...spec.args], r);
  const before = det.check;
  const { next, out } = step(spec, before, v, r.code);
  det.check = next;
  det.state = v === 'misconfigured' ? 'misconfigured' : v === 'healthy' ? 'healthy' : 'failing';
  const retryInMs = nextDelay(spec, next);
  const gaveUp = retryInMs === null;
  det.reason =
    v !== 'misconfigured'
      ? null
      : gaveUp
        ? `misconfigured ${MISCONFIGURED_TRIES} times in a row (${det.lastResult}); fix it and save the file to run it again`
        : `the check says it is misconfigured (${det.lastResult}); retrying with growing delays`;
  if (v === 'misconfigured')
    log('error', gaveUp ? 'detector misconfigured: not run again until its file changes' : 'detector misconfigured', {
      detector: det.name,
      result: det.lastResult,
      retryInMs,
    });
  const entity = spec.entity!;
  let o: Occurrence | null = null;
  if (out.publish === 'raise') {
    det.episode += 1;
    log('warn', out.class === 'detector' ? `detector failed ${next.failures} times in a row: raising` : 'detector misconfigured: raising', {
      detector: det.name,
      entity,
      result: det.lastResult,
    });
    o = {
      entity,
      type: 'raise',
      raise: { type: det.name, class: out.class, severity: out.severity },
      detail: det.lastResult,
      ...(det.lastFailure ? { failure: det.lastFailure } : {}),
      key: `detector:${det.name}:${det.episode}:raise`,
    };
  } else if (out.publish === 'recovered') {
    log('info', 'detector healthy again', { detector: det.name, entity });
    o = {
      entity,
      type: 'state',
      state: { from: null, to: 'healthy' },
      detail: `${det.name}: ${det.lastResult}`,
      key: `detector:${det.name}:${det.episode}:healthy`,
    };
  }
  if (o || next.failures !== before.failures || next.raised !== before.raised || next.misconfigured !== before.misconfigured) {
    // The decision and the event to publish are written first: a HAM killed in between publishes it after a takeover.
    // An earlier event still being published stays in the outbox until it is (a newer one replaces it: episodes are ordered).
    const pending = o ?? store.detectorRecord(det.name)?.outbox ?? null;
    const rec: DetectorRecord = {
      failures: next.failures,
      raised: next.raised,
      misconfigured: next.misconfigured,
      episode: det.episode,
      outbox: pending,
      mtimeMs: mtime(det.path),
      stream: null,
    };
    write(() => store.putDetectorRecord(det.name, rec));
  }
  if (o) failpoint('detector-decided'); // crash tests: decided and written, not yet published
  if (o) publish(host, det, o);
}

/** Publish a decided event; the store's outbox is cleared once it is. */
export function publish(host: HostContext, det: Detector, o: Occurrence): void {
  const { store, log, write, occur } = host.deps;
  occur(o).then(
    () => {
      const rec = store.detectorRecord(det.name);
      if (rec && rec.outbox?.key === o.key) write(() => store.putDetectorRecord(det.name, { ...rec, outbox: null }));
    },
    (e: unknown) => {
      det.reason = `could not publish to ${JSON.stringify(o.entity)}: ${HamError.from(e).message}`;
      log('warn', 'detector event not published', { detector: det.name, reason: det.reason });
    },
  );
}
