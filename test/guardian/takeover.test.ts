// Takeover in both directions, for death and for hangs, with entities that
// must be adopted (same pid), never restarted because of the takeover.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import { entity, exitNow, exiter, pairOf } from '../helpers/entities.js';
import { connect } from '../../src/index.js';
import { daemons, events, hamJson, keepersWith, procsWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

/** Hangs are detected after `hangMs`; tests of deaths use a calm threshold. */
async function startWithEntity(env?: NodeJS.ProcessEnv, hangMs = 3000) {
  await hamJson(t.home, ['start', '--hang-ms', String(hangMs)], env);
  await hamJson(t.home, ['attach', 'web', '--restart', '--', ...exiter(`${t.home}/web`, 7)]);
  return status(t.home);
}

/** Wait until a new, whole pair serves the home (the killed process gone). */
function newPair(killed: number, ok: (s: Awaited<ReturnType<typeof status>>) => boolean) {
  return waitStatus(t.home, 'a whole new pair', (s) => {
    const p = pairOf(s);
    return !!p && startTime(killed) === undefined && startTime(p.ham) !== undefined && startTime(p.guardian) !== undefined && ok(s);
  });
}

describe('HAM dies or hangs → the Guardian takes over', () => {
  for (const sig of ['SIGKILL', 'SIGTERM', 'SIGSEGV', 'SIGSTOP'] as const) {
    it(`HAM ${sig}: epoch + 1, failure counted, entity adopted with the same pid`, async () => {
      const before = await startWithEntity(undefined, sig === 'SIGSTOP' ? 1000 : 3000);
      const web = entity(before, 'web');
      process.kill(before.ham.pid!, sig);
      const after = await newPair(before.ham.pid!, (s) => s.ham.epoch > before.ham.epoch);
      expect(after.ham.pid).toBe(before.guardian.pid); // the Guardian itself became the HAM
      expect(after.ham.epoch).toBe(before.ham.epoch + 1);
      expect(after.ham.failures).toBe(1);
      expect(after.guardian.failures).toBe(0);
      expect(daemons(t.home).sort()).toEqual([after.ham.pid, after.guardian.pid].sort());
      expect(entity(after, 'web')).toMatchObject({ pid: web.pid, restarts: 0, deaths: 0, state: 'running' });
      expect(procsWith(`${t.home}/web`)).toEqual([web.pid]);
      expect(keepersWith(`${t.home}/web`)).toHaveLength(1);
    });
  }

  it('an entity that dies after a takeover (the new HAM never spawned it) has its exit code recorded', async () => {
    const before = await startWithEntity();
    process.kill(before.ham.pid!, 'SIGKILL');
    await newPair(before.ham.pid!, (s) => s.ham.epoch > before.ham.epoch);
    const pid = entity(before, 'web').pid!;
    await exitNow(`${t.home}/web`, pid); // exits with code 7
    const s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').restarts === 1 && entity(x, 'web').state === 'running');
    expect(entity(s, 'web')).toMatchObject({ deaths: 1, lastExit: { code: 7, signal: null } });
    expect(entity(s, 'web').pid).not.toBe(pid);
    expect(procsWith(`${t.home}/web`)).toEqual([entity(s, 'web').pid]);
  });

  it('an entity that dies while the HAM is hung is restarted by the new HAM, exactly once', async () => {
    const before = await startWithEntity(undefined, 1000);
    const pid = entity(before, 'web').pid!;
    process.kill(before.ham.pid!, 'SIGSTOP');
    process.kill(pid, 'SIGKILL');
    const s = await waitStatus(
      t.home,
      'web restarted by the new HAM',
      (x) => x.ham.epoch > before.ham.epoch && entity(x, 'web').state === 'running' && entity(x, 'web').pid !== pid,
    );
    expect(entity(s, 'web')).toMatchObject({ restarts: 1, deaths: 1, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(startTime(before.ham.pid!)).toBeUndefined(); // the hung HAM was killed: it can never act again
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
  });
});

describe('a HAM killed while its new Guardian is still starting', () => {
  it('the starting Guardian takes over all the same', async () => {
    const before = await startWithEntity();
    process.kill(before.ham.pid!, 'SIGKILL');
    // The moment the new HAM answers, its own new Guardian is still booting: kill it now.
    const mid = await waitStatus(t.home, 'the new HAM', (s) => s.ham.pid === before.guardian.pid);
    process.kill(mid.ham.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'a whole pair again',
      (s) => !!pairOf(s) && s.ham.epoch === before.ham.epoch + 2 && startTime(s.guardian.pid!) !== undefined,
    );
    expect(after.ham.failures).toBe(2);
    expect(daemons(t.home).sort()).toEqual([after.ham.pid, after.guardian.pid].sort());
    expect(entity(after, 'web').pid).toBe(entity(before, 'web').pid);
  });
});

describe('Guardian dies or hangs → the HAM spawns a new one', () => {
  for (const sig of ['SIGKILL', 'SIGTERM', 'SIGSTOP'] as const) {
    it(`Guardian ${sig}: replaced, failure counted, HAM and epoch unchanged`, async () => {
      const before = await startWithEntity(undefined, sig === 'SIGSTOP' ? 1000 : 3000);
      process.kill(before.guardian.pid!, sig);
      const after = await newPair(before.guardian.pid!, (s) => s.guardian.pid !== before.guardian.pid);
      expect(after.ham).toEqual(before.ham);
      expect(after.guardian.failures).toBe(1);
      expect(daemons(t.home).sort()).toEqual([after.ham.pid, after.guardian.pid].sort());
      expect(entity(after, 'web')).toMatchObject({ pid: entity(before, 'web').pid, restarts: 0 });
    });
  }

  it('the new Guardian takes over in its turn', async () => {
    const before = await startWithEntity();
    process.kill(before.guardian.pid!, 'SIGKILL');
    const mid = await newPair(before.guardian.pid!, (s) => s.guardian.pid !== before.guardian.pid);
    process.kill(mid.ham.pid!, 'SIGKILL');
    const after = await newPair(mid.ham.pid!, (s) => s.ham.epoch > mid.ham.epoch);
    expect(after.ham.pid).toBe(mid.guardian.pid);
    expect(after).toMatchObject({ ham: { failures: 1 }, guardian: { failures: 1 } });
    expect(entity(after, 'web').pid).toBe(entity(before, 'web').pid);
  });
});

describe('a pause of the whole pair (a VM pause, a stalled machine)', () => {
  it('both stopped for 3 s then continued: neither kills the other, nothing is restarted', async () => {
    const before = await startWithEntity(undefined, 1000);
    process.kill(before.ham.pid!, 'SIGSTOP');
    process.kill(before.guardian.pid!, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000)); // the pause under test, not a wait for a result
    process.kill(before.ham.pid!, 'SIGCONT');
    process.kill(before.guardian.pid!, 'SIGCONT');
    const after = await waitStatus(t.home, 'the pair answering', (s) => !!pairOf(s));
    // Both watchdogs get twice the hang threshold to (wrongly) fire: proved by the HAM's own clock, a
    // self-attached sentinel that never beats and is marked missed two periods of 1 s after it attached.
    const c = await connect({ home: t.home });
    try {
      await c.attachSelf('sentinel', { heartbeatMs: 1000, missedLow: 2, missedHigh: 4 });
      await waitFor(
        'the sentinel marked missed',
        async () => (await events(t.home)).some((e) => e.entity === 'sentinel' && e.condition === 'heartbeat-missed-low'),
        30_000,
      );
    } finally {
      c.close();
    }
    const settled = await status(t.home);
    expect(settled.ham).toEqual(before.ham);
    expect(settled.guardian).toEqual(before.guardian);
    expect(after.ham.epoch).toBe(before.ham.epoch);
    expect(entity(settled, 'web')).toMatchObject({ pid: entity(before, 'web').pid, restarts: 0 });
    expect(daemons(t.home).sort()).toEqual([before.ham.pid, before.guardian.pid].sort());
  });
});

describe('the store stays consistent when the HAM dies inside a write transaction', () => {
  it('a death record half-applied when the HAM is killed is applied exactly once by the next HAM', async () => {
    const points = join(t.home, 'failpoints');
    const env = { HAM_FAILPOINTS: 'apply-X:web', HAM_FAILPOINT_DIR: points };
    const before = await startWithEntity(env, 1000);
    const pid = entity(before, 'web').pid!;
    process.kill(pid, 'SIGKILL');
    // The HAM now spins inside the transaction that records the death, holding
    // LMDB's writer lock; the Guardian sees it hung, kills it and takes over.
    await waitFor('the HAM to reach the failpoint', () => existsSync(join(points, 'apply-X:web')));
    const after = await waitStatus(t.home, 'web restarted by the new HAM', (s) => s.ham.epoch > before.ham.epoch && entity(s, 'web').state === 'running');
    expect(entity(after, 'web')).toMatchObject({ deaths: 1, restarts: 1, instance: 2, lastExit: { signal: 'SIGKILL' } });
    // The death was rolled back with the transaction and applied again, by the new HAM.
    const applied = readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"keeper record X"') && l.includes('"entity":"web"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
    expect(applied).toEqual([before.guardian.pid]);
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
    // The store still takes writes: LMDB released the dead writer's lock.
    await hamJson(t.home, ['attach', 'more', '--', ...exiter(`${t.home}/more`, 0)]);
    expect(daemons(t.home)).toHaveLength(2);
  });
});
