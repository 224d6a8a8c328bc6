// Every condition type fires on what it should, and only on that.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, exitNow, exiter } from '../helpers/entities.js';
import { CALM, events, ham, hamJson, lines, request, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterAll((suite) => t.cleanup({ task: suite }));

/** A condition whose only action appends "<condition> $HAM_ENTITY" to a file. */
async function recorder(owner: string, name: string, body: object): Promise<string> {
  const file = join(t.home, `${owner === '*' ? 'global' : owner}-${name}.txt`);
  const condition = { ...body, actions: [{ kind: 'execute', argv: ['sh', '-c', `echo "${name} $HAM_ENTITY $HAM_EXIT_CODE $HAM_SIGNAL" >> ${file}`] }] };
  await request(t.home, 'condition-add', { entity: owner, name, condition });
  return file;
}

describe('condition types', () => {
  it('death fires on every death; abnormal-death only on a core-dump signal (and also fires death)', async () => {
    await hamJson(t.home, ['attach', 'd1', '--restart', '--', ...exiter(`${t.home}/d1`, 4)]);
    const death = await recorder('d1', 'died', { type: 'death', rearm: true });
    const abnormal = await recorder('d1', 'crashed', { type: 'abnormal-death', rearm: true });
    await exitNow(`${t.home}/d1`, entity(await status(t.home), 'd1').pid!); // exit 4: normal
    await waitFor('death recorded', () => lines(death).length === 1);
    const s = await waitStatus(t.home, 'd1 back', (x) => entity(x, 'd1').restarts === 1 && entity(x, 'd1').state === 'running');
    process.kill(entity(s, 'd1').pid!, 'SIGSEGV');
    await waitFor('both recorded', () => lines(death).length === 2 && lines(abnormal).length === 1);
    expect(lines(death)).toEqual(['died d1 4 ', 'died d1  SIGSEGV']);
    expect(lines(abnormal)).toEqual(['crashed d1  SIGSEGV']);
    const s2 = await waitStatus(t.home, 'd1 back again', (x) => entity(x, 'd1').restarts === 2 && entity(x, 'd1').state === 'running');
    process.kill(entity(s2, 'd1').pid!, 'SIGKILL'); // a deliberate kill is not abnormal
    await waitFor('third death', () => lines(death).length === 3);
    await waitStatus(t.home, 'd1 back a third time', (x) => entity(x, 'd1').restarts === 3);
    expect(lines(abnormal)).toHaveLength(1);
    const evs = (await events(t.home)).filter((e) => e.entity === 'd1' && /death/.test(e.condition));
    expect(evs.map((e) => e.condition)).toEqual(['death', 'abnormal-death', 'death']);
  });

  it('attach fills a placeholder declared with its conditions first', async () => {
    expect((await hamJson<{ kind: string }>(t.home, ['attach', 'later'])).kind).toBe('placeholder');
    const file = await recorder('later', 'arrived', { type: 'attach' });
    expect(lines(file)).toEqual([]);
    await hamJson(t.home, ['attach', 'later', '--', ...sleeper(`${t.home}/later`)]);
    await waitFor('attach fired', () => lines(file).length === 1);
    expect(entity(await status(t.home), 'later')).toMatchObject({ kind: 'spawned', state: 'running' });
  });

  it('detach fires on the global entity when an entity is detached', async () => {
    const file = await recorder('*', 'left', { type: 'detach', rearm: true });
    await hamJson(t.home, ['attach', 'leaver', '--', ...sleeper(`${t.home}/leaver`)]);
    await hamJson(t.home, ['detach', 'leaver']);
    await waitFor('detach fired', () => lines(file).some((l) => l.startsWith('left leaver')));
    await request(t.home, 'condition-rm', { entity: '*', name: 'left' });
  });

  it('restart fires after a successful restart; a condition without rearm is pruned then', async () => {
    await hamJson(t.home, ['attach', 'r1', '--restart', '--', ...sleeper(`${t.home}/r1`)]);
    const back = await recorder('r1', 'back', { type: 'restart', rearm: true });
    await recorder('r1', 'once', { type: 'raise' }); // not re-armed
    process.kill(entity(await status(t.home), 'r1').pid!, 'SIGKILL');
    await waitFor('restart fired', () => lines(back).length === 1);
    const names = entity(await status(t.home), 'r1').conditions.map((c) => c.name);
    expect(names).toEqual(['restart', 'back']);
  });

  it('raise matches type, class and severity, each exact or any', async () => {
    await hamJson(t.home, ['attach', 'rz', '--', ...sleeper(`${t.home}/rz`)]);
    const any = await recorder('rz', 'any-raise', { type: 'raise', rearm: true });
    const lat = await recorder('rz', 'latency', { type: 'raise', match: { type: 'latency' } });
    const sev2 = await recorder('rz', 'sev2', { type: 'raise', match: { type: 'latency', class: 'net', severity: 2 } });
    await hamJson(t.home, ['raise', 'rz', '--type', 'latency', '--class', 'net', '--severity', '1']);
    await hamJson(t.home, ['raise', 'rz', '--type', 'disk']);
    await hamJson(t.home, ['raise', 'rz', '--type', 'latency', '--class', 'net', '--severity', '2']);
    await waitFor('raises recorded', () => lines(any).length === 3 && lines(lat).length === 2 && lines(sev2).length === 1);
    expect(entity(await status(t.home), 'rz').conditions.find((c) => c.name === 'sev2')!.fired).toBe(1);
  });

  it('state matches from/to sets and "all but" sets', async () => {
    await hamJson(t.home, ['attach', 'st', '--', ...sleeper(`${t.home}/st`)]);
    const toBad = await recorder('st', 'to-bad', { type: 'state', to: { in: ['degraded', 'down'] } });
    const fromOk = await recorder('st', 'leaves-ok', { type: 'state', from: { in: ['ok'] }, to: { notIn: ['ok'] } });
    for (const s of ['ok', 'degraded', 'ok', 'ok']) await hamJson(t.home, ['state', 'st', s]);
    await waitFor('state conditions', () => lines(toBad).length === 1 && lines(fromOk).length === 1);
    const evs = (await events(t.home)).filter((e) => e.entity === 'st' && e.condition === 'state');
    expect(evs.map((e) => e.state)).toEqual([
      { from: null, to: 'ok' },
      { from: 'ok', to: 'degraded' },
      { from: 'degraded', to: 'ok' },
      { from: 'ok', to: 'ok' },
    ]);
    expect(entity(await status(t.home), 'st').userState).toBe('ok');
  });

  it('any fires on everything that happens to the entity', async () => {
    await hamJson(t.home, ['attach', 'an', '--restart', '--', ...sleeper(`${t.home}/an`)]);
    const file = await recorder('an', 'all', { type: 'any', rearm: true });
    await hamJson(t.home, ['raise', 'an', '--type', 'x']);
    await hamJson(t.home, ['state', 'an', 'busy']);
    process.kill(entity(await status(t.home), 'an').pid!, 'SIGKILL');
    await waitFor('raise, state, death, restart', () => lines(file).length === 4);
  });

  it('heartbeat conditions can be declared now (their timing comes with self-attached clients)', async () => {
    await hamJson(t.home, ['attach', 'hb', '--', ...sleeper(`${t.home}/hb`)]);
    for (const type of ['heartbeat-missed-low', 'heartbeat-missed-high'] as const)
      await request(t.home, 'condition-add', { entity: 'hb', name: type, condition: { type, actions: [{ kind: 'heartbeat-healthy' }] } });
    expect(entity(await status(t.home), 'hb').conditions.map((c) => c.type)).toEqual(['heartbeat-missed-low', 'heartbeat-missed-high']);
  });

  it('a disabled condition or entity fires nothing until enabled again', async () => {
    await hamJson(t.home, ['attach', 'en', '--', ...sleeper(`${t.home}/en`)]);
    const file = await recorder('en', 'r', { type: 'raise', rearm: true });
    await hamJson(t.home, ['disable', 'en/r']);
    await hamJson(t.home, ['raise', 'en', '--type', 'a']);
    await hamJson(t.home, ['enable', 'en/r']);
    await hamJson(t.home, ['disable', 'en']);
    await hamJson(t.home, ['raise', 'en', '--type', 'b']);
    await hamJson(t.home, ['enable', 'en']);
    await hamJson(t.home, ['raise', 'en', '--type', 'c']);
    await waitFor('one firing', () => lines(file).length === 1);
    const evs = (await events(t.home)).filter((e) => e.entity === 'en' && e.condition === 'raise');
    expect(evs.map((e) => e.fired.length)).toEqual([0, 0, 1]);
  });
});

describe('management errors name what is wrong and change nothing', () => {
  it('refuses duplicates, unknown names, and restart where it cannot be', async () => {
    await hamJson(t.home, ['attach', 'm', '--', ...sleeper(`${t.home}/m`)]);
    const before = entity(await status(t.home), 'm');
    const bad = async (args: string[], re: RegExp): Promise<void> => {
      const r = await ham(t.home, args);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(re);
    };
    await hamJson(t.home, ['condition', 'add', 'm', 'c', '--type', 'death']);
    await bad(['condition', 'add', 'm', 'c', '--type', 'death'], /duplicate-condition: entity m already has a condition named "c"/);
    await bad(['condition', 'add', 'nobody', 'c', '--type', 'death'], /unknown-entity: no entity named "nobody"/);
    await bad(['condition', 'add', 'm', 'x', '--type', 'explode'], /option '--type <type>' argument 'explode' is invalid/);
    await bad(['action', 'add', 'm', 'nope', 'a', '--kind', 'log'], /unknown-condition: entity m has no condition named "nope"/);
    await hamJson(t.home, ['condition', 'add', 'm', 'r', '--type', 'raise']);
    await bad(['action', 'add', 'm', 'r', 'a', '--kind', 'restart'], /expected restart only on a death or abnormal-death condition, r is raise/);
    await hamJson(t.home, ['action', 'add', 'm', 'c', 'again', '--kind', 'restart']);
    await hamJson(t.home, ['condition', 'add', 'm', 'c2', '--type', 'abnormal-death']);
    await bad(['action', 'add', 'm', 'c2', 'again', '--kind', 'restart'], /expected at most one restart action per entity, m would have 2/);
    await bad(['action', 'add', 'm', 'c', 'x', '--kind', 'signal', '--signal', 'SIGNOPE'], /action\.signal: expected a signal name such as SIGTERM/);
    await bad(['action', 'add', 'm', 'c', 'x', '--kind', 'execute'], /action\.argv: expected array, got nothing/);
    await bad(['action', 'rm', 'm', 'c', 'ghost'], /unknown-action: condition c of m has no action "ghost"/);
    await hamJson(t.home, ['condition', 'add', '*', 'gr', '--type', 'death']);
    await bad(['action', 'add', '*', 'gr', 'r', '--kind', 'restart'], /expected no restart action on the global entity/);
    const after = entity(await status(t.home), 'm');
    expect(after.conditions.map((c) => c.name)).toEqual([...before.conditions.map((c) => c.name), 'c', 'r', 'c2']);
    expect(after.conditions.find((c) => c.name === 'c')!.actions.map((a) => a.name)).toEqual(['again']);
  });
});
