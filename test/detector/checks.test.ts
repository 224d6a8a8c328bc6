// Check detectors: raise after exactly `tries` failures (and the entity's
// raise condition runs its actions), recovery as a state change, a hanging
// check killed at its timeout with its process group, OCF codes, and a
// failing streak kept across a HAM takeover.
import { copyFileSync, existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { childrenOf, cmdline, isAlive, procId } from '../../src/proc/procfs.js';
import { detector, detectorsDir, putDetector, waitDetector } from '../helpers/detectors.js';
import { entity, pairOf } from '../helpers/entities.js';
import { events, hamJson, lines, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
});
afterEach((ctx) => t.cleanup(ctx));

/** A check that fails (exit CODE) while HOME/FLAG exists, and logs each run with what the host told it. */
const flagged = (flag: string, code: number, log: string, header: string): string => `#!/bin/sh
# ham: ${header}
echo "failures=$HAM_FAILURES last=$HAM_LAST_RESULT pid=$HAM_PID" >> ${log}
if [ -e ${flag} ]; then echo "flag is up"; exit ${code}; fi
echo fine
`;

describe('check detectors', () => {
  it('raises after exactly `tries` consecutive failures, runs the raise condition once, and reports recovery as a state change', async () => {
    const flag = join(t.home, 'down');
    const log = join(t.home, 'runs');
    const acted = join(t.home, 'acted');
    await request(t.home, 'attach', { name: 'web', argv: ['sleep', '1000'] });
    await request(t.home, 'condition-add', {
      entity: 'web',
      name: 'probe-failed',
      condition: {
        type: 'raise',
        rearm: true,
        match: { type: 'probe', class: 'detector' },
        actions: [{ kind: 'execute', argv: ['/bin/sh', '-c', `echo "$HAM_ENTITY $HAM_CONDITION" >> ${acted}`] }],
      },
    });
    writeFileSync(flag, '');
    putDetector(t.home, 'probe', flagged(flag, 1, log, 'kind=check entity=web interval=150ms timeout=2s tries=3'));
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    // Raised on the third failure: the run that raised was told of 2 failures before it.
    expect(raise).toMatchObject({ entity: 'web', raise: { type: 'probe', class: 'detector', severity: 1 } });
    expect(raise.detail).toMatch(/^exit 1 \(failed\): flag is up/);
    await waitFor('the action ran', () => lines(acted).length === 1);
    expect(lines(acted)).toEqual(['web probe-failed']);
    const webPid = entity(await status(t.home), 'web').pid;
    expect(lines(log).slice(0, 3)).toEqual([`failures=0 last= pid=${webPid}`, `failures=1 last=1 pid=${webPid}`, `failures=2 last=1 pid=${webPid}`]);
    // Still failing: no second raise in this episode.
    await waitFor('three more failing runs', () => lines(log).length >= 6);
    expect((await events(t.home)).filter((e) => e.condition === 'raise')).toHaveLength(1);
    // Healthy again: one state change, and the streak starts over.
    unlinkSync(flag);
    const healthy = await waitFor('recovery', async () => (await events(t.home)).find((e) => e.condition === 'state'));
    expect(healthy).toMatchObject({ entity: 'web', state: { to: 'healthy' } });
    expect(healthy.detail).toContain('probe: exit 0 (healthy)');
    expect(await waitDetector(t.home, 'probe', 'healthy', (d) => d.state === 'healthy')).toMatchObject({ failures: 0 });
  });

  it('a hanging check is killed at its timeout, with its whole process group, and counts as a failure', async () => {
    await request(t.home, 'attach', { name: 'db' });
    const pids = join(t.home, 'pids');
    putDetector(
      t.home,
      'hang',
      `#!/bin/sh
# ham: kind=check entity=db interval=5s timeout=300ms tries=1
sleep 1000 &
echo "$$ $!" >> ${pids}
wait
`,
    );
    const d = await waitDetector(t.home, 'hang', 'timed out', (x) => x.state === 'failing');
    expect(d.lastResult).toMatch(/^timed out after 300 ms \(its process group was killed\)/);
    const [sh, child] = lines(pids)[0]!.split(' ').map(Number);
    await waitFor('the check and its child gone', () => !isAlive(procId(sh!)) && !isAlive(procId(child!)));
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    expect(raise).toMatchObject({ entity: 'db', raise: { type: 'hang', class: 'detector', severity: 1 } });
  });

  it('a real OCF-style monitor script: exit 0 while the entity runs, 7 once it is gone (raise with severity 7)', async () => {
    const pidfile = join(t.home, 'svc.pid');
    await request(t.home, 'attach', { name: 'svc', argv: ['/bin/sh', '-c', `echo $$ > ${pidfile}; exec sleep 1000`] });
    copyFileSync(join(PACKAGE_ROOT, 'test', 'fixtures', 'ocf-monitor.sh'), join(detectorsDir(t.home), 'svc-monitor'));
    writeFileSync(
      join(detectorsDir(t.home), 'svc-monitor.ham.json'),
      JSON.stringify({ kind: 'check', entity: 'svc', interval: '150ms', tries: 2, args: ['monitor'], env: { OCF_RESKEY_pidfile: pidfile } }),
      { mode: 0o600 },
    );
    const ok = await waitDetector(t.home, 'svc-monitor', 'healthy', (d) => d.state === 'healthy');
    const pid = entity(await status(t.home), 'svc').pid!;
    expect(ok.lastResult).toBe(`exit 0 (healthy): running as ${pid}`);
    process.kill(pid, 'SIGKILL');
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    expect(raise).toMatchObject({ entity: 'svc', raise: { type: 'svc-monitor', class: 'detector', severity: 7 } });
    expect(raise.detail).toBe(`exit 7 (not running): pid ${pid} is gone: not running`);
  });

  it('exit codes 2–6 mean the check is misconfigured: raised at once as such, retried with growing delays, running again once fixed', async () => {
    await request(t.home, 'attach', { name: 'web' });
    const log = join(t.home, 'runs');
    putDetector(
      t.home,
      'conf',
      `#!/bin/sh\n# ham: kind=check entity=web interval=100ms tries=3\necho "$(date +%s%3N)" >> ${log}\necho "OCF_RESKEY_url is not set"\nexit 6\n`,
    );
    const d = await waitDetector(t.home, 'conf', 'misconfigured', (x) => x.state === 'misconfigured');
    expect(d.reason).toContain('exit 6 (misconfigured): OCF_RESKEY_url is not set');
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    expect(raise).toMatchObject({ entity: 'web', raise: { type: 'conf', class: 'detector-misconfigured', severity: 6 } });
    // Not every 100 ms: retried 200, 400, 800 ms after each start, as the HAM decided and logged.
    await waitFor('four runs', () => lines(log).length >= 4, 30_000);
    const retries = lines(join(t.home, 'logs', 'ham.log'))
      .map((l) => JSON.parse(l) as { msg: string; detector?: string; retryInMs?: number })
      .filter((l) => l.detector === 'conf' && l.msg === 'detector misconfigured')
      .map((l) => l.retryInMs);
    expect(retries.slice(0, 3)).toEqual([200, 400, 800]);
    // And kept: the first run to the fourth spans the 1,400 ms of delays. When a script starts after the HAM
    // started its run varies with the machine's load; 500 ms of that slack still leaves it far above the
    // 300 ms that three runs at the 100 ms interval would take.
    const at = lines(log).map(Number);
    expect(at[3]! - at[0]!).toBeGreaterThanOrEqual(1400 - 500);
    expect((await events(t.home)).filter((e) => e.condition === 'raise')).toHaveLength(1);
    // Fixed and saved: it runs again, healthy, and says so.
    putDetector(t.home, 'conf', `#!/bin/sh\n# ham: kind=check entity=web interval=100ms tries=1\necho ok\n`);
    await waitDetector(t.home, 'conf', 'healthy', (x) => x.state === 'healthy');
  });

  it('the HAM killed after a check decided to raise but before it published: the next HAM publishes it, once', async () => {
    await hamJson(t.home, ['stop']);
    const points = join(t.home, 'failpoints');
    await hamJson(t.home, ['start', '--hang-ms', '1000'], { HAM_FAILPOINTS: 'detector-decided', HAM_FAILPOINT_DIR: points });
    const before = await status(t.home);
    await request(t.home, 'attach', { name: 'web' });
    putDetector(t.home, 'down', '#!/bin/sh\n# ham: kind=check entity=web interval=200ms tries=1\necho down; exit 1\n');
    await waitFor('the failpoint reached', () => existsSync(join(points, 'detector-decided')));
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s));
    const raise = await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    expect(raise).toMatchObject({ entity: 'web', raise: { type: 'down', class: 'detector', severity: 1 } });
    await waitFor('five more failing runs', async () => ((await detector(t.home, 'down'))?.runs ?? 0) >= 5);
    expect((await events(t.home)).filter((e) => e.condition === 'raise')).toHaveLength(1);
  });

  it('a wedged check runner (SIGSTOPped) is killed and replaced; checks go on', async () => {
    await request(t.home, 'attach', { name: 'web' });
    const log = join(t.home, 'runs');
    putDetector(t.home, 'tick', `#!/bin/sh\n# ham: kind=check entity=web interval=200ms timeout=300ms\necho run >> ${log}\n`);
    await waitFor('a first run', () => lines(log).length >= 1);
    const s = await status(t.home);
    const runner = () => [...childrenOf(new Set([s.ham.pid!]))].find((p) => cmdline(p).some((a) => a.endsWith('runner.pl')));
    const first = await waitFor('the runner', runner);
    process.kill(first, 'SIGSTOP');
    const n = lines(log).length;
    await waitFor('a new runner', () => {
      const r = runner();
      return r !== undefined && r !== first ? r : undefined;
    });
    await waitFor('runs again', () => lines(log).length >= n + 3);
    expect(isAlive(procId(first))).toBe(false);
  });

  it('the HAM SIGKILLed during a failing episode: the check keeps running under the new HAM and the episode is not raised twice', async () => {
    const flag = join(t.home, 'down');
    const log = join(t.home, 'runs');
    await request(t.home, 'attach', { name: 'web' });
    writeFileSync(flag, '');
    putDetector(t.home, 'probe', flagged(flag, 1, log, 'kind=check entity=web interval=150ms tries=2'));
    await waitFor('the raise', async () => (await events(t.home)).find((e) => e.condition === 'raise'));
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s));
    const n = lines(log).length;
    await waitFor('five more runs under the new HAM', () => lines(log).length >= n + 5);
    // The streak came from the store: the new HAM's runs were told of the failures so far.
    expect(
      lines(log)
        .slice(n)
        .every((l) => !l.startsWith('failures=0 ')),
    ).toBe(true);
    expect((await events(t.home)).filter((e) => e.condition === 'raise')).toHaveLength(1);
  });
});
