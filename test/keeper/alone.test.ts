// Keepers nobody will answer: `stop --all` releases every keeper (self-attached
// clients' too), and a keeper whose entity died while no HAM runs exits after
// HAM_KEEPER_ALONE_MS, leaving its death record for the next `ham start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { startTime } from '../../src/proc/procfs.js';
import { keeperProcesses } from '../../src/proc/keepers.js';
import { entity, exiter } from '../helpers/entities.js';
import { events, ham, hamJson, keepersWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

const FIXTURE = join(PACKAGE_ROOT, 'test', 'fixtures', 'self-client.mjs');

let t: TestHome;
const children: ChildProcess[] = [];
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  t.cleanup(ctx);
});

const keepersOf = (home: string): number[] =>
  keeperProcesses()
    .filter((k) => k.argv.some((a) => a.startsWith(home)))
    .map((k) => k.pid);
const alive = (pid: number): boolean => startTime(pid) !== undefined;

async function selfClient(n: number, prefix: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [FIXTURE, t.home, '200', String(n), prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  await waitFor(`${n} attached`, () => out.split('\n').filter((l) => l.startsWith('{')).length === n);
  return c;
}

describe('keepers nobody will answer', () => {
  it('stop --all releases the keepers of self-attached clients; their deaths are recorded by the next start', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const c = await selfClient(2, 'me');
    await hamJson(t.home, ['attach', 'web', '--', ...exiter(`${t.home}/web`, 0)]);
    const keepers = await waitFor('three keepers', () => {
      const k = keepersOf(t.home);
      return k.length === 3 ? k : undefined;
    });
    expect((await ham(t.home, ['stop', '--all'])).code).toBe(0);
    c.kill('SIGKILL');
    await waitFor('every keeper gone', () => keepers.every((p) => !alive(p)));
    expect(keepersOf(t.home)).toEqual([]);
    // The clients died while no HAM ran and nobody watched them: the next start says so.
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const s = await waitStatus(t.home, 'both deaths recorded', (x) => ['me0', 'me1'].every((n) => entity(x, n).state === 'dead'));
    for (const n of ['me0', 'me1']) expect(entity(s, n)).toMatchObject({ deaths: 1, pid: null });
    expect((await events(t.home)).filter((e) => e.condition === 'death' && e.entity.startsWith('me'))).toHaveLength(2);
    expect(keepersOf(t.home)).toHaveLength(1); // web's, started again
  });

  it('a keeper whose entity dies while no HAM runs exits after the bound; the next start records the death once and restarts it', async () => {
    const env = { HAM_KEEPER_ALONE_MS: '400' };
    await hamJson(t.home, ['start', '--hang-ms', '3000'], env);
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...exiter(`${t.home}/web`, 0)]);
    const before = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running');
    const pid = entity(before, 'web').pid!;
    const [keeper] = keepersWith(`${t.home}/web`);
    expect(keeper).toBeDefined();
    expect((await ham(t.home, ['stop'])).code).toBe(0);
    expect(alive(pid)).toBe(true); // entities outlive a plain stop
    process.kill(pid, 'SIGKILL');
    await waitFor('the keeper to give up waiting', () => !alive(keeper!));
    expect(readdirSync(join(t.home, 'run', 'inbox')).length).toBeGreaterThan(0); // its death record waits there
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').state === 'running' && entity(x, 'web').restarts === 1);
    expect(entity(s, 'web')).toMatchObject({ deaths: 1, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(entity(s, 'web').pid).not.toBe(pid);
    const evs = (await events(t.home)).filter((e) => e.entity === 'web');
    expect(evs.filter((e) => e.condition === 'abnormal-death' || e.condition === 'death')).toHaveLength(1);
    expect(evs.filter((e) => e.condition === 'restart')).toHaveLength(1);
    expect(keepersWith(`${t.home}/web`)).toHaveLength(1);
  });
});
