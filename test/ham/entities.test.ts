// Spawned entities: attach, detach, restart, exit status, keepers.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import { entity, exitNow, exiter } from '../helpers/entities.js';
import { CALM, ham, hamJson, keepersWith, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

describe('spawned entities', () => {
  it('attach spawns the argv without a shell, with env and cwd, and reports the pid', async () => {
    const out = join(t.home, 'env.txt');
    const script = `open(F, '>', '${out}'); print F join('|', $ENV{GREETING}, $ENV{HAM_ENTITY}, $ENV{HAM_INSTANCE}, $ARGV[0]); close F; sleep 100000`;
    const e = await hamJson<{ pid: number; state: string }>(t.home, [
      'attach',
      'env',
      '--env',
      'GREETING=hi there',
      '--cwd',
      t.home,
      '--',
      'perl',
      '-e',
      script,
      '$HOME;`id`',
    ]);
    expect(e.state).toBe('running');
    await waitFor('the entity to write its file', () => readFileSync(out, 'utf8').length > 0);
    // The $HOME;`id` argument arrives verbatim: no shell touched it.
    expect(readFileSync(out, 'utf8')).toBe('hi there|env|1|$HOME;`id`');
    const cwd = (await status(t.home)).entities[0]!.cwd;
    expect(cwd).toBe(t.home);
  });

  it('an empty argument is an argument: attach and apply pass every one as given; only an empty program is refused', async () => {
    // Writes its argument count, then each argument in brackets, to the file named first.
    const argsOf = `open(F, '>', shift); print F join("\\n", scalar(@ARGV), map { "[$_]" } @ARGV); close F; sleep 100000`;
    const attached = join(t.home, 'attached.txt');
    expect(await hamJson<{ state: string }>(t.home, ['attach', 'a', '--', 'perl', '-e', argsOf, attached, '', 'b', ''])).toMatchObject({ state: 'running' });
    await waitFor('a wrote its arguments', () => existsSync(attached) && readFileSync(attached, 'utf8').length > 0);
    expect(readFileSync(attached, 'utf8').split('\n')).toEqual(['3', '[]', '[b]', '[]']);
    expect(entity(await status(t.home), 'a').argv).toEqual(['perl', '-e', argsOf, attached, '', 'b', '']);

    const applied = join(t.home, 'applied.txt');
    const file = join(t.home, 'ham.yaml');
    writeFileSync(file, `entities:\n  p:\n    command: ${JSON.stringify(['perl', '-e', argsOf, applied, ''])}\n`);
    expect((await ham(t.home, ['apply', '-f', file])).code).toBe(0);
    await waitFor('p wrote its arguments', () => existsSync(applied) && readFileSync(applied, 'utf8').length > 0);
    expect(readFileSync(applied, 'utf8').split('\n')).toEqual(['1', '[]']);

    const r = await ham(t.home, ['attach', 'none', '--', '', 'b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('attach.argv[0]: expected a program name, got ""');
  });

  it('a duplicate name is refused and changes nothing', async () => {
    const first = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--', ...sleeper(`${t.home}/web`)]);
    const r = await ham(t.home, ['attach', 'web', '--', ...sleeper(`${t.home}/web2`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/duplicate-entity: an entity named "web" is already attached/);
    expect(procsWith(`${t.home}/web2`)).toHaveLength(0);
    expect(entity(await status(t.home), 'web').pid).toBe(first.pid);
  });

  it('without --restart a dead entity stays dead, its exit code recorded, its keeper gone', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'once', '--', ...exiter(`${t.home}/once`, 3)]);
    await exitNow(`${t.home}/once`, e.pid);
    const s = await waitStatus(t.home, 'once dead', (x) => entity(x, 'once').state === 'dead');
    expect(entity(s, 'once')).toMatchObject({ pid: null, deaths: 1, restarts: 0, lastExit: { code: 3, signal: null } });
    await waitFor('its keeper to exit', () => keepersWith(`${t.home}/once`).length === 0);
    expect(procsWith(`${t.home}/once`)).toHaveLength(0);
  });

  it('with --restart it is restarted after each death, each exit status recorded', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...exiter(`${t.home}/web`, 9)]);
    process.kill(e.pid, 'SIGTERM');
    let s = await waitStatus(t.home, 'first restart', (x) => entity(x, 'web').restarts === 1 && entity(x, 'web').state === 'running');
    expect(entity(s, 'web').lastExit).toEqual({ code: null, signal: 'SIGTERM' });
    await exitNow(`${t.home}/web`, entity(s, 'web').pid!);
    s = await waitStatus(t.home, 'second restart', (x) => entity(x, 'web').restarts === 2 && entity(x, 'web').state === 'running');
    expect(entity(s, 'web')).toMatchObject({ deaths: 2, instance: 3, lastExit: { code: 9, signal: null } });
    expect(procsWith(`${t.home}/web`)).toEqual([entity(s, 'web').pid]);
  });

  it('a command that dies at once is restarted with growing delays, not in a tight loop', async () => {
    await hamJson(t.home, ['attach', 'crashy', '--restart', '--', 'perl', '-e', 'exit 1', `${t.home}/crashy`]);
    const s = await waitStatus(t.home, 'a few deaths', (x) => entity(x, 'crashy').deaths >= 5);
    // 0 + 100 + 200 + 400 ms of backoff at least between the first and fifth death.
    const e = entity(s, 'crashy');
    expect(e.lastExit).toEqual({ code: 1, signal: null });
    const log = readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8');
    const deaths = log
      .split('\n')
      .filter((l) => l.includes('"keeper record X"') && l.includes('"crashy"'))
      .map((l) => Date.parse(JSON.parse(l).time));
    expect(deaths.length).toBeGreaterThanOrEqual(5);
    expect(deaths[4]! - deaths[0]!).toBeGreaterThanOrEqual(700);
  });

  it('a first start that cannot run leaves nothing behind; fixing it and attaching again works', async () => {
    const r = await ham(t.home, ['attach', 'web', '--restart', '--cwd', '/nonexistent/dir', '--', ...sleeper(`${t.home}/web`)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /spawn-failed: keeper could not be started|spawn-failed: the keeper \(.*\) could not be started in \/nonexistent\/dir|spawn-failed: its keeper died before the command started/,
    );
    expect((await status(t.home)).entities).toHaveLength(0);
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
  });

  it('stop --all then start brings back what ran, not what had died for good', async () => {
    await hamJson(t.home, ['attach', 'runs', '--', ...sleeper(`${t.home}/runs`)]);
    const gone = await hamJson<{ pid: number }>(t.home, ['attach', 'gone', '--', ...exiter(`${t.home}/gone`, 0)]);
    await exitNow(`${t.home}/gone`, gone.pid);
    await waitStatus(t.home, 'gone dead', (x) => entity(x, 'gone').state === 'dead');
    expect((await ham(t.home, ['stop', '--all'])).code).toBe(0);
    await hamJson(t.home, ['start', ...CALM]);
    const s = await waitStatus(t.home, 'runs running again', (x) => entity(x, 'runs').state === 'running');
    expect(entity(s, 'gone')).toMatchObject({ state: 'dead', instance: 1 });
    expect(procsWith(`${t.home}/gone`)).toHaveLength(0);
  });

  it('detach stops monitoring and leaves the process running', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const started = startTime(e.pid);
    expect((await ham(t.home, ['detach', 'web'])).code).toBe(0);
    expect((await status(t.home)).entities).toHaveLength(0);
    await waitFor('its keeper to exit', () => keepersWith(`${t.home}/web`).length === 0);
    expect(startTime(e.pid)).toBe(started);
    const r = await ham(t.home, ['detach', 'web']);
    expect(r.stderr).toMatch(/unknown-entity: no entity named "web"/);
  });
});

describe('keepers', () => {
  it('a keeper killed while its entity lives: the orphan is adopted, not restarted, and its death still seen', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const [keeper] = keepersWith(`${t.home}/web`);
    process.kill(keeper!, 'SIGKILL');
    await waitFor('a new keeper', () => keepersWith(`${t.home}/web`).some((k) => k !== keeper));
    let s = await status(t.home);
    expect(entity(s, 'web')).toMatchObject({ pid: e.pid, restarts: 0, state: 'running' });
    expect(procsWith(`${t.home}/web`)).toEqual([e.pid]);
    // The new keeper is not its parent, so the status is unknown, but the death is seen and acted on.
    process.kill(e.pid, 'SIGKILL');
    s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').restarts === 1 && entity(x, 'web').state === 'running');
    expect(entity(s, 'web')).toMatchObject({ deaths: 1, lastExit: { code: null, signal: null } });
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
    expect(keepersWith(`${t.home}/web`)).toHaveLength(1);
  });

  it('keeper and entity killed together: restarted once', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const [keeper] = keepersWith(`${t.home}/web`);
    process.kill(e.pid, 'SIGKILL');
    process.kill(keeper!, 'SIGKILL');
    const s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').restarts === 1 && entity(x, 'web').state === 'running');
    expect(entity(s, 'web').deaths).toBe(1);
    expect(procsWith(`${t.home}/web`)).toEqual([entity(s, 'web').pid]);
    expect(keepersWith(`${t.home}/web`)).toHaveLength(1);
  });

  it('keepers ignore stray signals to their process group (SIGTERM, SIGHUP, SIGINT)', async () => {
    const e = await hamJson<{ pid: number }>(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
    const [keeper] = keepersWith(`${t.home}/web`);
    for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) process.kill(keeper!, sig);
    // Prove the keeper handled them (and is still the parent) by killing the entity: it records the exact status.
    process.kill(e.pid, 'SIGQUIT');
    const s = await waitStatus(t.home, 'web restarted', (x) => entity(x, 'web').restarts === 1);
    expect(entity(s, 'web').lastExit).toEqual({ code: null, signal: 'SIGQUIT' });
    expect(keepersWith(`${t.home}/web`)).toEqual([keeper]);
  });
});
