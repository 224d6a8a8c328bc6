// A stream detector's end as data, as a check's failure is: argv, exit code,
// signal, how long it ran and the tail of its stderr, on the detector's view
// (`ham detectors --json`) and in `ham detectors`. Real daemon, real scripts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { ham, hamJson, request, tempHome, type TestHome } from '../helpers/ham.js';

describe('a stream detector that ends, as data (real daemon, real stream)', () => {
  let t: TestHome;
  beforeAll(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'web', argv: ['sleep', '1000'] });
  });
  afterAll((suite) => t.cleanup({ task: suite }));

  it('a stream that exits: its argv, exit code, duration and stderr tail', async () => {
    const path = putDetector(t.home, 'tail', '#!/bin/sh\n# ham: kind=stream entity=web\necho "cannot open the log" >&2\nexit 3\n');
    const d = await waitDetector(t.home, 'tail', 'ended with data', (x) => x.lastFailure !== null);
    expect(d.state).toBe('crashed');
    expect(d.lastResult).toMatch(/^exited with code 3: cannot open the log/); // the sentence stays
    expect(d.lastFailure).toMatchObject({ argv: [path], exitCode: 3, signal: null, timedOut: false, stderrTail: 'cannot open the log\n' });
    expect(d.lastFailure!.durationMs).toEqual(expect.any(Number));
    const text = await ham(t.home, ['detectors']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/failure: argv ".*tail", exit code 3, after \d+ ms, stderr …cannot open the log/);
  });

  it('a stream killed by a signal: the signal, no exit code', async () => {
    const path = putDetector(t.home, 'watch', '#!/bin/sh\n# ham: kind=stream entity=web\nexec sleep 1000\n');
    const running = await waitDetector(t.home, 'watch', 'running', (x) => x.state === 'running' && x.pid !== null);
    expect(running.lastFailure).toBeNull();
    process.kill(running.pid!, 'SIGKILL');
    const d = await waitDetector(t.home, 'watch', 'killed, with data', (x) => x.lastFailure !== null);
    expect(d.lastFailure).toMatchObject({ argv: [path], exitCode: null, signal: 'SIGKILL', timedOut: false });
    expect(d.lastFailure).not.toHaveProperty('stderrTail'); // it wrote nothing
  });
});
