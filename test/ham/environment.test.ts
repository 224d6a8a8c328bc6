// What entities start from: a fixed base kept in the store at the first
// `ham start`, the same whichever shell started the pair and after a
// takeover; and every environment that enters is validated.
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIXED_PATH } from '../../src/environment.js';
import { startTime } from '../../src/proc/procfs.js';
import { entity, pairOf } from '../helpers/entities.js';
import { ham, hamJson, lines, sleeper, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

/** A process's environment, from /proc (HAM_INSTANCE left out: it counts starts). */
function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  const out: Record<string, string> = {};
  for (const kv of raw) {
    const i = kv.indexOf('=');
    if (kv.slice(0, i) !== 'HAM_INSTANCE') out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** Kill the entity and return its next pid (it restarts). */
async function respawned(before: number): Promise<number> {
  process.kill(before, 'SIGKILL');
  const s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').pid !== before && entity(x, 'web').state === 'running');
  return entity(s, 'web').pid!;
}

describe('the base environment', () => {
  it('is fixed: not the starting shell, the same after a takeover and after a restart of the pair from another shell', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000'], { FOO: 'bar', LANG: 'C.UTF-8' });
    await hamJson(t.home, ['attach', 'web', '--restart', '--env', 'OWN=1', '--', ...sleeper(`${t.home}/web`)]);
    const first = entity(await status(t.home), 'web').pid!;
    const env = environOf(first);
    const me = userInfo();
    expect(env).toEqual({
      PATH: FIXED_PATH,
      HOME: me.homedir,
      USER: me.username,
      LOGNAME: me.username,
      SHELL: me.shell,
      LANG: 'C.UTF-8',
      OWN: '1',
      HAM_ENTITY: 'web',
    });

    // A takeover: the Guardian (another process) becomes the HAM and spawns the next instance.
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'a new pair', (s) => {
      const p = pairOf(s);
      return !!p && s.ham.epoch > before.ham.epoch && startTime(p.guardian) !== undefined;
    });
    const second = await respawned(first);
    expect(environOf(second)).toEqual(env);

    // Stopped, then started from a shell with other variables (and another PATH).
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', '--hang-ms', '3000'], { FOO: 'other', BAZ: 'qux', LANG: 'de_DE.UTF-8', PATH: `/opt/nowhere:${process.env.PATH}` });
    const third = await respawned(second);
    expect(environOf(third)).toEqual(env);
  });

  it('ham start --env / --pass-env / --unset-env change it, and it stays changed', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000', '--env', 'ADDED=1', '--pass-env', 'PASSED', '--unset-env', 'SHELL'], { PASSED: 'from-shell' });
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const first = entity(await status(t.home), 'web').pid!;
    expect(environOf(first)).toMatchObject({ ADDED: '1', PASSED: 'from-shell', PATH: FIXED_PATH });
    expect(environOf(first).SHELL).toBeUndefined();
    // Running: a change is refused (it would not take effect).
    const r = await ham(t.home, ['start', '--env', 'LATE=1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/already running.*take effect at a start/);
    const missing = await ham(t.home, ['start', '--pass-env', 'NOT_SET_ANYWHERE']);
    expect(missing.stderr).toMatch(/--pass-env NOT_SET_ANYWHERE: expected NOT_SET_ANYWHERE to be set in this shell/);
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', '--hang-ms', '3000'], { PASSED: 'changed-shell' });
    const second = await respawned(first);
    expect(environOf(second)).toMatchObject({ ADDED: '1', PASSED: 'from-shell' });
  });

  it("an entity's own PATH resolves its command; one without perl in it still gets its keeper", async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const r = await ham(t.home, ['attach', 'x', '--env', 'PATH=/nowhere', '--', 'sleep', '100']);
    expect(r.stderr).toMatch(/expected an executable file, got "sleep" \(not found in PATH\)/);
    await hamJson(t.home, ['attach', 'web', '--env', 'PATH=/nowhere', '--', '/usr/bin/perl', '-e', 'sleep 100', `${t.home}/web`]);
    const s = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running' && entity(x, 'web').pid !== null);
    expect(environOf(entity(s, 'web').pid!).PATH).toBe('/nowhere');
  });

  it('execute actions start from the same base', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000'], { FOO: 'bar' });
    const out = join(t.home, 'action-env');
    const file = join(t.home, 'a.json');
    writeFileSync(
      file,
      JSON.stringify({
        entities: {
          web: {
            command: sleeper(`${t.home}/web`),
            conditions: { died: { type: 'death', actions: [{ kind: 'execute', argv: ['/bin/sh', '-c', `env > ${out}`], env: { ACT: 'x' } }] } },
          },
        },
      }),
    );
    await hamJson(t.home, ['apply', '-f', file]);
    const pid = entity(await waitStatus(t.home, 'web running', (s) => entity(s, 'web')?.state === 'running'), 'web').pid!;
    process.kill(pid, 'SIGKILL');
    await waitStatus(t.home, 'the action ran', () => lines(out).some((l) => l.startsWith('HAM_CONDITION=')));
    const seen = lines(out);
    expect(seen).toContain(`PATH=${FIXED_PATH}`);
    expect(seen).toContain('ACT=x');
    expect(seen.some((l) => l.startsWith('FOO='))).toBe(false);
  });
});

describe('environment variables are validated where they enter', () => {
  beforeEach(async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
  });

  it('attach: a name with =, an empty name, a NUL in a value are refused naming the key; nothing is attached', async () => {
    const { request } = await import('../helpers/ham.js');
    const bad = async (env: Record<string, string>): Promise<string> => {
      const r = await request<{ message?: string }>(t.home, 'attach', { name: 'n', argv: ['sleep', '100'], env }).catch((e: Error) => ({ message: e.message }));
      return r.message ?? '';
    };
    expect(await bad({ 'A=B': 'x' })).toMatch(/attach\.env: expected a variable name .*got the name "A=B"/);
    expect(await bad({ '': 'v' })).toMatch(/attach\.env: expected a variable name .*got the name ""/);
    expect(await bad({ A: 'x\0y' })).toMatch(/attach\.env\.A: expected no NUL byte in the value/);
    expect(await bad({ '1X': 'v' })).toMatch(/got the name "1X"/);
    expect(await bad({ A: 'x'.repeat(40_000) })).toMatch(/attach\.env\.A: expected a value of at most 32768 characters/);
    // The CLI says so before sending.
    const cli = await ham(t.home, ['attach', 'n', '--env', '=v', '--', 'sleep', '100']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/got the name "" \(in "=v"\)/);
    expect((await status(t.home)).entities).toEqual([]);
  });

  it('apply: entities.*.env and execute actions env, each problem with its path; nothing changes', async () => {
    const file = join(t.home, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        entities: {
          w: {
            command: ['sleep', '100'],
            env: { 'A=B': 'x', '': 'v', C: 'a\0b' },
          },
          x: {
            command: ['sleep', '100'],
            conditions: { died: { type: 'death', actions: [{ kind: 'execute', argv: ['true'], env: { 'X Y': '1' } }] } },
          },
        },
      }),
    );
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/entities\.w\.env: expected a variable name .*got the name "A=B"/);
    expect(r.stderr).toMatch(/entities\.w\.env: expected a variable name .*got the name ""/);
    expect(r.stderr).toMatch(/entities\.w\.env\.C: expected no NUL byte in the value/);
    expect(r.stderr).toMatch(/entities\.x\.conditions\.died\.actions\[0\]\.env: expected a variable name .*got the name "X Y"/);
    expect((await status(t.home)).entities).toEqual([]);
  });
});
