// Stream detectors: each stdout line is an event; a flood, binary garbage or
// over-long lines are contained; a crashed stream is restarted with backoff;
// across a HAM takeover there is exactly one copy running.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/home.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { Store } from '../../src/store/store.js';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { pairOf } from '../helpers/entities.js';
import { events, hamJson, lines, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

/** Read the home's store (the LMDB file is shared between processes, as the HAM and the Guardian share it). */
async function readStore<T>(fn: (store: Store) => T): Promise<T> {
  const store = new Store(homePaths(t.home).store);
  try {
    return fn(store);
  } finally {
    await store.close();
  }
}

/** Every event after `since` (the default page is 1,000). */
const allEvents = async (since: number) => (await request<{ events: Awaited<ReturnType<typeof events>> }>(t.home, 'events', { since, limit: 10_000 })).events;

describe('stream detectors', () => {
  it('each line is an event for the named entity or its own; its raise condition runs', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'web' });
    await request(t.home, 'attach', { name: 'db' });
    const acted = join(t.home, 'acted');
    await request(t.home, 'condition-add', {
      entity: 'db',
      name: 'slow',
      condition: {
        type: 'raise',
        match: { type: 'latency', severity: 2 },
        actions: [{ kind: 'execute', argv: ['/bin/sh', '-c', `echo "$HAM_ENTITY" >> ${acted}`] }],
      },
    });
    putDetector(
      t.home,
      'watch',
      `#!/bin/sh
# ham: kind=stream entity=web
echo '{"state":"degraded"}'
echo '{"entity":"db","raise":{"type":"latency","severity":2}}'
exec sleep 1000
`,
    );
    await waitFor('the action ran', () => lines(acted).length === 1);
    const evs = (await events(t.home)).filter((e) => e.condition === 'state' || e.condition === 'raise');
    expect(evs.map((e) => [e.entity, e.condition])).toEqual([
      ['web', 'state'],
      ['db', 'raise'],
    ]);
    expect(evs[0]).toMatchObject({ state: { to: 'degraded' }, detail: 'from detector watch' });
    expect(await waitDetector(t.home, 'watch', 'running', (d) => d.state === 'running')).toMatchObject({ kind: 'stream', runs: 2, badLines: 0 });
  });

  it('100,000 lines and binary garbage: contained, reported, and the HAM answers promptly and keeps its role', async () => {
    // A short hang threshold: a HAM whose loop stalled for a second would be taken over.
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    await request(t.home, 'attach', { name: 'web' });
    const before = await status(t.home);
    putDetector(
      t.home,
      'flood',
      `#!/bin/sh
# ham: kind=stream entity=web
perl -e 'print "{not json\\n" x 100; print qq({"raise":{"type":"flood"}}\\n) x 100000; print "x" x 100000, "\\n"'
head -c 300000 /dev/urandom
echo
sleep 2
echo '{"raise":{"type":"after"}}'
exec sleep 1000
`,
    );
    const slowest = { ms: 0 };
    await waitFor(
      'the event after the flood',
      async () => {
        const t0 = performance.now();
        await status(t.home);
        slowest.ms = Math.max(slowest.ms, performance.now() - t0);
        return (await allEvents(before.lastSeq)).some((e) => e.condition === 'raise' && (e.raise as { type: string }).type === 'after') ? true : undefined;
      },
      60_000,
    );
    expect(slowest.ms).toBeLessThan(1000);
    const v = await waitDetector(t.home, 'flood', 'counted', (x) => x.badLines >= 100);
    expect(v.state).toBe('running');
    expect(v.dropped).toBeGreaterThan(90_000); // over the rate, and the over-long line
    expect(v.reason).toMatch(/^bad line: /);
    const floods = (await allEvents(before.lastSeq)).filter((e) => e.condition === 'raise' && (e.raise as { type: string }).type === 'flood');
    expect(floods.length).toBeGreaterThan(0);
    expect(floods.length).toBeLessThan(5000); // the rate bound, not 100,000
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
  });

  it('a stream that dies is restarted with growing delays', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'web' });
    const starts = join(t.home, 'starts');
    putDetector(t.home, 'crashy', `#!/bin/sh\n# ham: kind=stream entity=web\necho "$(date +%s%3N)" >> ${starts}\necho "oops" >&2\nexit 3\n`);
    await waitFor('four starts', () => lines(starts).length >= 4, 30_000);
    // 100, 200, 400 ms of backoff, as the HAM decided and logged...
    const delays = lines(join(t.home, 'logs', 'ham.log'))
      .map((l) => JSON.parse(l) as { msg: string; detector?: string; delayMs?: number })
      .filter((l) => l.detector === 'crashy' && l.msg === 'stream detector ended: restarting with backoff')
      .map((l) => l.delayMs);
    expect(delays.slice(0, 3)).toEqual([100, 200, 400]);
    // ...and kept: the first start to the fourth spans the 700 ms of delays, less a slack for the first start
    // coming late on a loaded machine (without a backoff it would take the time of three starts).
    const at = lines(starts).slice(0, 4).map(Number);
    expect(at[3]! - at[0]!).toBeGreaterThanOrEqual(700 - 300);
    const d = await waitDetector(t.home, 'crashy', 'crashed', (x) => x.state === 'crashed');
    expect(d.lastResult).toBe('exited with code 3: oops');
  });

  it('its backoff survives a takeover: the first end under the new HAM continues the count (and the delay) where the old HAM left them', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'web' });
    const starts = join(t.home, 'starts');
    // Ends at once, except its fifth start, which runs until the HAM is killed (so the old HAM counts exactly 4 ends).
    putDetector(
      t.home,
      'crashy',
      `#!/bin/sh
# ham: kind=stream entity=web
echo start >> ${starts}
if [ "$(wc -l < ${starts})" -eq 5 ]; then exec sleep 1000; fi
exit 3
`,
    );
    await waitFor('the fifth start', () => lines(starts).length === 5, 30_000);
    await waitDetector(t.home, 'crashy', 'running', (d) => d.state === 'running');
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch);
    const d = await waitDetector(t.home, 'crashy', 'ended under the new HAM', (x) => x.state === 'crashed', 30_000);
    // A backoff started over would say "restarting in 100 ms (ended 1 time in a row)".
    expect(d.reason).toBe('restarting in 1600 ms (ended 5 times in a row)');
    expect(lines(starts)).toHaveLength(6);
    expect(await readStore((store) => store.detectorRecord('crashy'))).toMatchObject({ crashes: 5, stream: null });
  });

  it('across a HAM takeover exactly one copy runs, and its events keep coming', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'web' });
    const pids = join(t.home, 'pids');
    putDetector(
      t.home,
      'ticker',
      `#!/bin/sh
# ham: kind=stream entity=web
echo $$ >> ${pids}
i=0
while true; do i=$((i+1)); echo "{\\"state\\":\\"tick-$i\\"}"; sleep 0.1; done
`,
    );
    await waitFor('ticking', async () => (await events(t.home)).filter((e) => e.condition === 'state').length >= 3);
    const before = await status(t.home);
    const first = procId(Number(lines(pids)[0]))!;
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s));
    await waitFor('a second copy started', () => lines(pids).length >= 2);
    await waitFor('the first copy gone', () => !isAlive(first));
    const seq = (await status(t.home)).lastSeq;
    await waitFor('ticks from the new copy', async () => (await events(t.home, seq)).filter((e) => e.condition === 'state').length >= 3);
    expect(lines(pids)).toHaveLength(2);
    expect(
      lines(pids)
        .map(Number)
        .filter((p) => isAlive(procId(p))),
    ).toHaveLength(1);
  });
});
