// A failing check's result as data, not only a sentence: argv, exit code,
// signal, duration, timed out and its last line, on the detector's view and
// on the raise event it publishes (bounded like the rest of an event).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFailure } from '../../src/detector/check.js';
import { boundFailure, EVENT_ARG_MAX, EVENT_ARGV_MAX, EVENT_DETAIL_MAX } from '../../src/store/limits.js';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { events, hamJson, request, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

describe('a failing check as data (real daemon, real check)', () => {
  let t: TestHome;
  beforeAll(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
  });
  afterAll((suite) => t.cleanup({ task: suite }));

  it('the raise event and the detector view carry argv, exitCode, signal, durationMs, timedOut and the last line', async () => {
    await request(t.home, 'attach', { name: 'web', argv: ['sleep', '1000'] });
    const flag = join(t.home, 'down');
    writeFileSync(flag, '');
    const path = putDetector(
      t.home,
      'probe',
      `#!/bin/sh\n# ham: kind=check entity=web interval=150ms timeout=2s tries=2\nif [ -e ${flag} ]; then echo "port closed" >&2; exit 1; fi\n`,
    );
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    expect(raise.detail).toMatch(/^exit 1 \(failed\): port closed/); // the sentence stays
    expect(raise.failure).toMatchObject({ argv: [path], exitCode: 1, signal: null, timedOut: false, lastLine: 'port closed' });
    expect((raise.failure as { durationMs: number }).durationMs).toEqual(expect.any(Number));
    const d = await waitDetector(t.home, 'probe', 'failing with data', (x) => x.lastFailure !== null);
    expect(d.lastFailure).toMatchObject({ argv: [path], exitCode: 1, timedOut: false });
  });
});

describe('failure data, pure', () => {
  it('a healthy result has none; an unhealthy one says how it ended', () => {
    expect(checkFailure(['/c'], { code: 0, signal: null, ms: 3, timedOut: false, last: 'ok' })).toBeNull();
    expect(checkFailure(['/c'], { code: null, signal: 'SIGKILL', ms: 2000, timedOut: true, last: '' })).toEqual({
      argv: ['/c'],
      exitCode: null,
      signal: 'SIGKILL',
      durationMs: 2000,
      timedOut: true,
    });
  });

  it('in an event a failure is bounded: arguments counted and cut, texts cut', () => {
    const long = 'y'.repeat(10_000);
    const b = boundFailure({ argv: Array.from({ length: 100 }, () => long), stderrTail: `${long}the end`, lastLine: long, exitCode: 1 });
    expect(b.argv).toHaveLength(EVENT_ARGV_MAX + 1);
    expect(b.argv![0]!.length).toBe(EVENT_ARG_MAX);
    expect(b.argv![EVENT_ARGV_MAX]).toBe(`… ${100 - EVENT_ARGV_MAX} more`);
    expect(b.stderrTail!.length).toBe(EVENT_DETAIL_MAX);
    expect(b.stderrTail!.endsWith('the end')).toBe(true);
    expect(b.lastLine!.length).toBe(EVENT_DETAIL_MAX);
    expect(b.exitCode).toBe(1);
  });
});
