// HAM-invoked health checks with real client processes: a false answer or
// no answer → the warning signal → SIGKILL after the grace → death
// conditions (and a restart), also when the HAM is SIGKILLed in between.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { entity, pairOf } from '../helpers/entities.js';
import { events, hamJson, lines, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

const FIXTURE = join(PACKAGE_ROOT, 'test', 'fixtures', 'health-client.mjs');

let t: TestHome;
const children: ChildProcess[] = [];
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
});
afterEach((ctx) => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  t.cleanup(ctx);
});

const healthClient = (name: string, mode: string, intervalMs: number, graceMs: number): string[] => [
  process.execPath,
  FIXTURE,
  t.home,
  name,
  mode,
  String(intervalMs),
  String(graceMs),
];
const entityEvents = async (name: string) => (await events(t.home)).filter((e) => e.entity === name);

describe('health checks the HAM calls', () => {
  it('an unhealthy answer → SIGTERM (ignored) → SIGKILL after the grace → death → restart; the next instance is healthy', async () => {
    // The HAM spawns the client; the client joins its own entity with a health check.
    await request(t.home, 'attach', { name: 'web', argv: healthClient('web', 'fail-first', 100, 800), restart: true });
    const checks = join(t.home, 'web.checks');
    const s = await waitStatus(t.home, 'web restarted once and checked healthy', (x) => {
      const w = entity(x, 'web');
      return w.restarts === 1 && w.state === 'running' && w.health !== null && lines(checks).includes('2 true');
    });
    const w = entity(s, 'web');
    expect(w).toMatchObject({
      kind: 'spawned',
      instance: 2,
      deaths: 1,
      health: { intervalMs: 100, timeoutMs: 500, signal: 'SIGTERM', graceMs: 800, failing: null },
    });
    expect(w.health!.failures).toBe(1);
    // The first instance answered false once, was sent SIGTERM, ignored it.
    const log = lines(checks);
    expect(log.filter((l) => l.startsWith('1 '))).toEqual(['1 false', '1 SIGTERM ignored']);
    const evs = await entityEvents('web');
    expect(evs.map((e) => e.condition)).toEqual(['attach', 'health-check-failed', 'death', 'restart']);
    const [, failed, death] = evs;
    expect(failed!.detail).toContain('unhealthy');
    expect(death).toMatchObject({ exit: { code: null, signal: 'SIGKILL' } });
    expect(death!.detail).toContain('failed health check');
    // SIGKILL came no sooner than the grace after the failure.
    expect(Date.parse(death!.time) - Date.parse(failed!.time)).toBeGreaterThanOrEqual(800 - 5);
  });

  it('a check that does not answer in time is a failure; a self-attached client dies of the default SIGTERM', async () => {
    const c = spawn(process.execPath, healthClient('x', 'hang', 100, 5000).slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    await waitFor('x attached', async () => (await status(t.home)).entities.some((e) => e.name === 'x' && e.state === 'running'));
    const exited = new Promise<NodeJS.Signals | null>((r) => c.once('exit', (_code, sig) => r(sig)));
    expect(await exited).toBe('SIGTERM');
    const evs = await waitFor('failure and death', async () => {
      const e = await entityEvents('x');
      return e.some((v) => v.condition === 'death') ? e : undefined;
    });
    expect(evs.map((e) => e.condition)).toEqual(['attach', 'health-check-failed', 'death']);
    expect(evs[1]!.detail).toContain('did not answer within 500 ms');
    expect(entity(await status(t.home), 'x')).toMatchObject({ state: 'dead', deaths: 1 });
  });

  it('the HAM SIGKILLed during the grace: the new HAM sends the SIGKILL on time, once', async () => {
    await request(t.home, 'attach', { name: 'api', argv: healthClient('api', 'fail-first', 100, 2500), restart: true });
    const failed = await waitFor('the check failed', async () => (await entityEvents('api')).find((e) => e.condition === 'health-check-failed'));
    const s = await status(t.home);
    const victim = procId(entity(s, 'api').pid!)!;
    expect(entity(s, 'api').health!.failing).not.toBeNull();
    process.kill(s.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
    await waitFor('the first instance killed', () => !isAlive(victim));
    const after = await waitStatus(
      t.home,
      'api restarted and healthy',
      (x) => entity(x, 'api').restarts === 1 && lines(join(t.home, 'api.checks')).includes('2 true'),
    );
    const evs = await entityEvents('api');
    expect(evs.map((e) => e.condition)).toEqual(['attach', 'health-check-failed', 'death', 'restart']);
    expect(evs[2]).toMatchObject({ exit: { signal: 'SIGKILL' } });
    expect(Date.parse(evs[2]!.time) - Date.parse(failed.time)).toBeGreaterThanOrEqual(2500 - 5);
    expect(entity(after, 'api').health).toMatchObject({ failures: 1, failing: null });
  });

  it('a healthy client is checked across a takeover without a failure', async () => {
    const c = spawn(process.execPath, healthClient('ok', 'ok', 50, 1000).slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    const checks = join(t.home, 'ok.checks');
    await waitFor('checked 3 times', () => lines(checks).length >= 3);
    const s = await status(t.home);
    process.kill(s.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
    const before = lines(checks).length;
    // The new HAM calls the re-attached client (after its takeover grace).
    await waitFor('checked 5 more times by the new HAM', () => lines(checks).length >= before + 5);
    expect(lines(checks).every((l) => l === '1 true')).toBe(true);
    expect((await entityEvents('ok')).map((e) => e.condition)).toEqual(['attach']);
    expect(entity(await status(t.home), 'ok')).toMatchObject({ state: 'running', health: { failures: 0, failing: null } });
    expect(c.exitCode).toBeNull();
  });

  it('bad health-check options are refused, naming the field', async () => {
    const err = await request(t.home, 'self-attach', { name: 'bad', pid: process.pid, health: { intervalMs: 1, signal: 'SIGNOPE' } }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/self-attach\.health\.intervalMs: expected at least 10 ms, got number 1/);
    expect(err?.message).toMatch(/self-attach\.health\.signal: expected a signal name/);
    expect((await status(t.home)).entities.some((e) => e.name === 'bad')).toBe(false);
  });
});
