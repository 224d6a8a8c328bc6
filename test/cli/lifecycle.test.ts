// `ham start | stop | status` on a real pair.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { CALM, daemons, ham, hamJson, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe('ham start / stop / status', () => {
  it('status on a home where nothing runs says so and exits non-zero', async () => {
    const r = await ham(t.home, ['status']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not-running: no HAM is running on/);
    const j = await ham(t.home, ['status', '--json']);
    expect(j.code).not.toBe(0);
    expect(JSON.parse(j.stdout).error.code).toBe('not-running');
  });

  it('start returns once HAM and Guardian are both up; a second start changes nothing', async () => {
    const first = await hamJson<{ already: boolean; ham: { pid: number; epoch: number }; guardian: { pid: number } }>(t.home, ['start']);
    expect(first.already).toBe(false);
    expect(first.ham.pid).toBeGreaterThan(0);
    expect(first.guardian.pid).toBeGreaterThan(0);
    expect(first.guardian.pid).not.toBe(first.ham.pid);
    expect(daemons(t.home).sort()).toEqual([first.ham.pid, first.guardian.pid].sort());

    const again = await ham(t.home, ['start']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already running/);
    const s = await status(t.home);
    expect(s.ham.pid).toBe(first.ham.pid);
    expect(s.ham.epoch).toBe(first.ham.epoch);
    expect(daemons(t.home)).toHaveLength(2);
  });

  it('three concurrent starts on one home make exactly one pair (the store is the lock)', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => ham(t.home, ['--json', 'start'])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const hams = new Set(runs.map((r) => (JSON.parse(r.stdout) as { ham: { pid: number } }).ham.pid));
    expect(hams.size).toBe(1);
    const s = await status(t.home);
    expect(s.ham.epoch).toBe(1);
    // A losing start's daemon sees the pair and exits, perhaps after its CLI has returned.
    const pair = [s.ham.pid, s.guardian.pid].sort().join(',');
    await waitFor('the losing daemons gone', () => daemons(t.home).sort().join(',') === pair);
  });

  it('five concurrent starts on each of four new homes: one HAM claims each (the claim lock), never two at epoch 1', async () => {
    for (let i = 0; i < 4; i++) {
      const home = join(t.home, `h${i}`); // under the test's home: its cleanup kills and removes these too
      const runs = await Promise.all([1, 2, 3, 4, 5].map(() => ham(home, ['--json', 'start'])));
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
      expect(new Set(runs.map((r) => (JSON.parse(r.stdout) as { ham: { pid: number } }).ham.pid)).size).toBe(1);
      const s = await status(home);
      const pair = [s.ham.pid, s.guardian.pid].sort().join(',');
      await waitFor('the losing daemons gone', () => daemons(home).sort().join(',') === pair);
      const served = readFileSync(join(home, 'logs', 'ham.log'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('serving as HAM'));
      expect(served, served.join('\n')).toHaveLength(1);
      expect(s.ham.epoch).toBe(1);
      expect((await ham(home, ['stop'])).code).toBe(0);
    }
  });

  it('keeps its home private: home 0700, socket 0600', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    expect(statSync(t.home).mode & 0o777).toBe(0o700);
    expect(statSync(join(t.home, 'ham.sock')).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.home, 'ham.sock')).isSocket()).toBe(true);
  });

  it('status --json has the contract fields', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const s = await status(t.home);
    expect(s.ham).toEqual({ pid: expect.any(Number), epoch: expect.any(Number), failures: 0, keeper: 'c' });
    expect(s.guardian).toEqual({ pid: expect.any(Number), failures: 0 });
    expect(s.entities[0]).toMatchObject({
      name: 'web',
      kind: 'spawned',
      pid: expect.any(Number),
      state: 'running',
      restarts: 0,
      deaths: 0,
      lastExit: null,
      conditions: [{ name: 'restart', type: 'death', actions: [{ name: 'restart', kind: 'restart' }] }],
    });
    const human = await ham(t.home, ['status']);
    expect(human.stdout).toMatch(/NAME\s+KIND\s+STATE\s+PID/);
    expect(human.stdout).toMatch(/web\s+spawned\s+running/);
    const one = await ham(t.home, ['status', 'web']);
    expect(one.stdout).toMatch(/restart: death \{rearm\} — fired 0, failed 0/);
  });

  it('stop stops the pair and leaves entities running; start re-adopts them (same pid) and restarts the dead', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'stays', '--restart', '--', ...sleeper(`${t.home}/stays`)]);
    await hamJson(t.home, ['attach', 'dies', '--restart', '--', ...sleeper(`${t.home}/dies`)]);
    const before = await status(t.home);
    const pidOf = (s: typeof before, n: string): number => s.entities.find((e) => e.name === n)!.pid!;

    const stop = await ham(t.home, ['stop']);
    expect(stop.code).toBe(0);
    await waitFor('both daemons gone', () => daemons(t.home).length === 0);
    expect(procsWith(`${t.home}/stays`)).toEqual([pidOf(before, 'stays')]);
    expect((await ham(t.home, ['status'])).code).not.toBe(0);

    // Dies while nothing supervises it: its keeper records the status.
    process.kill(pidOf(before, 'dies'), 'SIGKILL');
    await waitFor('dies to be gone', () => procsWith(`${t.home}/dies`).length === 0);

    await hamJson(t.home, ['start', ...CALM]);
    const after = await waitStatus(t.home, 'dies restarted', (s) => s.entities.find((e) => e.name === 'dies')?.state === 'running');
    expect(pidOf(after, 'stays')).toBe(pidOf(before, 'stays'));
    expect(after.entities.find((e) => e.name === 'stays')!.restarts).toBe(0);
    const dies = after.entities.find((e) => e.name === 'dies')!;
    expect(dies.pid).not.toBe(pidOf(before, 'dies'));
    expect(dies).toMatchObject({ restarts: 1, deaths: 1, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(procsWith(`${t.home}/stays`)).toHaveLength(1);
    expect(procsWith(`${t.home}/dies`)).toHaveLength(1);
  });

  it('stop --all stops the entities too; the next start brings them back', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const id = procId(e.pid)!;
    expect((await ham(t.home, ['stop', '--all'])).code).toBe(0);
    expect(isAlive(id)).toBe(false);
    expect(procsWith(`${t.home}/web`)).toHaveLength(0);
    expect(daemons(t.home)).toHaveLength(0);

    await hamJson(t.home, ['start', ...CALM]);
    const s = await waitStatus(t.home, 'web running again', (x) => x.entities[0]?.state === 'running');
    expect(s.entities[0]!.deaths).toBe(0); // a requested stop is not a death
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
  });

  it('stop on a home where nothing runs says so and exits 0', async () => {
    const r = await ham(t.home, ['stop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/not running/);
  });
});
