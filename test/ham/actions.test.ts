// Every action kind, its failure path, and every flag; the multistage
// recovery scenario; lists in order vs. independent lists.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import type { ConditionView } from '../../src/protocol/views.js';
import { entity, exitNow, exiter } from '../helpers/entities.js';
import { CALM, events, hamJson, lines, procsWith, request, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterAll((suite) => t.cleanup({ task: suite }));

const append = (file: string, text: string) => ({ kind: 'execute', argv: ['sh', '-c', `echo "${text}" >> ${file}`] });
const f = (name: string): string => join(t.home, name);
async function condition(entityName: string, name: string): Promise<ConditionView> {
  const c = entity(await status(t.home), entityName).conditions.find((x) => x.name === name);
  if (!c) throw new Error(`no condition ${name}`);
  return c;
}
async function raiseOn(name: string, type = 'go'): Promise<void> {
  await hamJson(t.home, ['raise', name, '--type', type]);
}

describe('action kinds', () => {
  it('execute: sees the HAM_* variables; a non-zero exit fails and runs its fail-actions', async () => {
    await hamJson(t.home, ['attach', 'ex', '--', ...exiter(`${t.home}/ex`, 6)]);
    const out = f('ex-env.txt');
    await request(t.home, 'condition-add', {
      entity: 'ex',
      name: 'died',
      condition: {
        type: 'death',
        actions: [
          { kind: 'execute', argv: ['sh', '-c', `echo "$HAM_ENTITY|$HAM_CONDITION|$HAM_EVENT_SEQ|$HAM_PID|$HAM_EXIT_CODE|$HAM_SIGNAL" >> ${out}`] },
          { name: 'fails', kind: 'execute', argv: ['sh', '-c', 'exit 3'], keepOnFail: true, onFail: [append(f('ex-onfail.txt'), 'recovering $HAM_ENTITY')] },
        ],
      },
    });
    const pid = entity(await status(t.home), 'ex').pid!;
    await exitNow(`${t.home}/ex`, pid);
    await waitFor('fail-action', () => lines(f('ex-onfail.txt')).length === 1);
    const seq = (await events(t.home)).find((e) => e.entity === 'ex' && e.condition === 'death')!.seq;
    expect(lines(out)).toEqual([`ex|died|${seq}|${pid}|6|`]);
    expect(lines(f('ex-onfail.txt'))).toEqual(['recovering ex']);
    const c = await condition('ex', 'died');
    expect(c.actions[1]).toMatchObject({ name: 'fails', runs: 1, failures: 1, lastResult: 'failed', lastError: 'exited with code 3' });
    expect(c.actions[1]!.onFail[0]).toMatchObject({ runs: 1, failures: 0, lastResult: 'ok' });
    expect(c.failed).toBe(1);
  });

  it('execute: a timed-out command is killed with its whole process group', async () => {
    await hamJson(t.home, ['attach', 'slow', '--', ...sleeper(`${t.home}/slow`)]);
    const marker = `${t.home}/slow-child`;
    await request(t.home, 'condition-add', {
      entity: 'slow',
      name: 'r',
      condition: {
        type: 'raise',
        rearm: true,
        actions: [{ kind: 'execute', argv: ['sh', '-c', `perl -e 'sleep 1000' ${marker} & sleep 1000`], timeoutMs: 300, keepOnFail: true }],
      },
    });
    await raiseOn('slow');
    await waitFor('the child to start', () => procsWith(marker).length === 1);
    await waitFor('the timeout', async () => (await condition('slow', 'r')).actions[0]!.lastResult === 'failed');
    expect((await condition('slow', 'r')).actions[0]!.lastError).toBe('timed out after 300 ms; its process group was sent SIGTERM, then SIGKILL after 2000 ms');
    await waitFor('the grandchild killed too', () => procsWith(marker).length === 0);
  });

  it('signal: to the entity, to a pid, and a failure when there is no such process', async () => {
    await hamJson(t.home, ['attach', 'sig', '--restart', '--', ...exiter(`${t.home}/sig`, 0)]);
    const victim = await hamJson<{ pid: number }>(t.home, ['attach', 'victim', '--', ...sleeper(`${t.home}/victim`)]);
    await request(t.home, 'condition-add', {
      entity: 'sig',
      name: 'r',
      condition: {
        type: 'raise',
        rearm: true,
        actions: [
          { name: 'other', kind: 'signal', signal: 'SIGTERM', pid: victim.pid },
          { name: 'nobody', kind: 'signal', pid: 999_999_999, keepOnFail: true },
          { name: 'self', kind: 'signal', signal: 'SIGUSR1' },
        ],
      },
    });
    const pid = entity(await status(t.home), 'sig').pid!;
    await raiseOn('sig');
    const s = await waitStatus(t.home, 'sig restarted after SIGUSR1 (exit 0)', (x) => entity(x, 'sig').restarts === 1);
    expect(entity(s, 'sig').lastExit).toEqual({ code: 0, signal: null });
    expect(startTime(pid)).toBeUndefined();
    await waitStatus(t.home, 'victim dead', (x) => entity(x, 'victim').state === 'dead');
    const c = await condition('sig', 'r');
    expect(c.actions.map((a) => [a.name, a.lastResult])).toEqual([
      ['other', 'ok'],
      ['nobody', 'failed'],
      ['self', 'ok'],
    ]);
    expect(c.actions[1]!.lastError).toMatch(/cannot send SIGTERM to pid 999999999: ESRCH/);
  });

  it('notify: publishes an event pointing at the one that fired it', async () => {
    await hamJson(t.home, ['attach', 'nt', '--', ...sleeper(`${t.home}/nt`)]);
    await request(t.home, 'condition-add', { entity: 'nt', name: 'r', condition: { type: 'raise', actions: [{ kind: 'notify', message: 'look at nt' }] } });
    await raiseOn('nt');
    const evs = await waitFor('notify event', async () => {
      const all = (await events(t.home)).filter((e) => e.entity === 'nt' && (e.condition === 'raise' || e.condition === 'notify'));
      return all.length === 2 ? all : undefined;
    });
    expect(evs[1]).toMatchObject({ condition: 'notify', notifies: evs[0]!.seq, detail: 'look at nt' });
  });

  it('waitfor: a path that appears succeeds, a missing one fails at its deadline, a delay waits', async () => {
    await hamJson(t.home, ['attach', 'wf', '--cwd', t.home, '--', ...sleeper(`${t.home}/wf`)]);
    await request(t.home, 'condition-add', {
      entity: 'wf',
      name: 'r',
      condition: {
        type: 'raise',
        rearm: true,
        actions: [
          { name: 'appears', kind: 'waitfor', path: 'wf-ready', timeoutMs: 10_000, keepOnFail: true },
          { name: 'never', kind: 'waitfor', path: 'wf-never', timeoutMs: 300, keepOnFail: true },
          { name: 'pause', kind: 'waitfor', delayMs: 200 },
        ],
      },
    });
    await raiseOn('wf');
    await waitFor('waitfor to be waiting', async () => (await condition('wf', 'r')).fired === 1);
    writeFileSync(f('wf-ready'), '');
    await waitFor('all three done', async () => (await condition('wf', 'r')).actions.every((a) => a.runs === 1));
    const c = await condition('wf', 'r');
    expect(c.actions.map((a) => a.lastResult)).toEqual(['ok', 'failed', 'ok']);
    expect(c.actions[1]!.lastError).toBe(`${f('wf-never')} did not appear within 300 ms`);
  });

  it('log writes to the HAM log at its level; heartbeat-healthy succeeds', async () => {
    await hamJson(t.home, ['attach', 'lg', '--', ...sleeper(`${t.home}/lg`)]);
    await request(t.home, 'condition-add', {
      entity: 'lg',
      name: 'r',
      condition: { type: 'raise', actions: [{ kind: 'log', message: 'lg raised something', level: 'warn' }, { kind: 'heartbeat-healthy' }] },
    });
    await raiseOn('lg');
    await waitFor('the log line', () => readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').includes('"lg raised something"'));
    const line = readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8')
      .split('\n')
      .find((l) => l.includes('"lg raised something"'))!;
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', entity: 'lg', condition: 'r' });
    await waitFor('counted', async () => (await condition('lg', 'r')).actions.every((a) => a.runs === 1 && a.lastResult === 'ok'));
  });
});

describe('action flags', () => {
  it('breakOnFail skips the rest of the list; without it the list goes on', async () => {
    await hamJson(t.home, ['attach', 'bf', '--', ...sleeper(`${t.home}/bf`)]);
    await request(t.home, 'condition-add', {
      entity: 'bf',
      name: 'r',
      condition: {
        type: 'raise',
        actions: [
          append(f('bf.txt'), 'one'),
          { kind: 'execute', argv: ['false'], keepOnFail: true },
          append(f('bf.txt'), 'two'),
          { kind: 'execute', argv: ['false'], breakOnFail: true, keepOnFail: true },
          append(f('bf.txt'), 'never'),
        ],
      },
    });
    await raiseOn('bf');
    await waitFor('the list to end', async () => (await condition('bf', 'r')).actions[3]!.runs === 1);
    expect(lines(f('bf.txt'))).toEqual(['one', 'two']);
    expect((await condition('bf', 'r')).actions[4]!.runs).toBe(0);
  });

  it('a failed action is removed unless keepOnFail (as in QNX)', async () => {
    await hamJson(t.home, ['attach', 'kf', '--', ...sleeper(`${t.home}/kf`)]);
    await request(t.home, 'condition-add', {
      entity: 'kf',
      name: 'r',
      condition: {
        type: 'raise',
        rearm: true,
        actions: [
          { name: 'goes', kind: 'execute', argv: ['false'] },
          { name: 'stays', kind: 'execute', argv: ['false'], keepOnFail: true },
        ],
      },
    });
    await raiseOn('kf');
    await waitFor('the failed action removed', async () => (await condition('kf', 'r')).actions.map((a) => a.name).join() === 'stays');
    expect((await condition('kf', 'r')).actions[0]).toMatchObject({ name: 'stays', failures: 1 });
  });

  it('now runs an action once when it is added', async () => {
    await hamJson(t.home, ['attach', 'nw', '--', ...sleeper(`${t.home}/nw`)]);
    await hamJson(t.home, ['condition', 'add', 'nw', 'r', '--type', 'raise', '--rearm']);
    await hamJson(t.home, ['action', 'add', 'nw', 'r', 'at-once', '--kind', 'execute', '--now', '--', 'sh', '-c', `echo now >> ${f('nw.txt')}`]);
    await hamJson(t.home, ['action', 'add', 'nw', 'r', 'later', '--kind', 'execute', '--', 'sh', '-c', `echo later >> ${f('nw.txt')}`]);
    await waitFor('the now action', () => lines(f('nw.txt')).length === 1);
    await raiseOn('nw');
    await waitFor('both on raise', () => lines(f('nw.txt')).length === 3);
    expect(lines(f('nw.txt'))).toEqual(['now', 'now', 'later']);
  });

  it('lists for one entity run in order; an independent list runs alongside', async () => {
    await hamJson(t.home, ['attach', 'ord', '--cwd', t.home, '--', ...sleeper(`${t.home}/ord`)]);
    const file = f('ord.txt');
    await request(t.home, 'condition-add', {
      entity: 'ord',
      name: 'slow',
      condition: { type: 'raise', actions: [append(file, 'slow-start'), { kind: 'waitfor', path: 'ord-go', timeoutMs: 20_000 }, append(file, 'slow-end')] },
    });
    await request(t.home, 'condition-add', { entity: 'ord', name: 'queued', condition: { type: 'raise', actions: [append(file, 'queued')] } });
    await request(t.home, 'condition-add', {
      entity: 'ord',
      name: 'alone',
      condition: { type: 'raise', independent: true, actions: [append(file, 'independent')] },
    });
    await raiseOn('ord');
    await waitFor('slow started, independent done', () => lines(file).includes('slow-start') && lines(file).includes('independent'));
    expect(lines(file)).not.toContain('queued'); // waits for the slow list
    writeFileSync(f('ord-go'), '');
    await waitFor('all done', () => lines(file).length === 4);
    expect(lines(file).filter((l) => l !== 'independent')).toEqual(['slow-start', 'slow-end', 'queued']);
    expect((await condition('ord', 'slow')).actions[1]).toMatchObject({ lastResult: 'ok', failures: 0 });
  });
});

describe('multistage recovery', () => {
  // The scenario of the issue: death → execute (records HAM_*) → restart → waitfor
  // the path the restarted process creates; then a run where it never appears.
  const program = (dir: string, marker: string) => [
    'sh',
    '-c',
    `if [ -e ${dir}/broken ]; then exec sleep 1000; fi; touch ${dir}/ms.sock; exec sleep 1000`,
    marker,
  ];

  it('death → execute → restart → waitfor; the path missing → onFail runs and breakOnFail stops the rest', async () => {
    const dir = t.home;
    await hamJson(t.home, ['attach', 'ms', '--cwd', dir, '--', ...program(dir, `${t.home}/ms`)]);
    await waitFor('first socket', () => existsSync(f('ms.sock')));
    await request(t.home, 'condition-add', {
      entity: 'ms',
      name: 'died',
      condition: {
        type: 'death',
        rearm: true,
        actions: [
          {
            name: 'note',
            kind: 'execute',
            argv: ['sh', '-c', `echo "$HAM_ENTITY $HAM_SIGNAL $HAM_PID" >> ${f('ms-notes.txt')}; rm -f ${f('ms.sock')}`],
            keepOnFail: true,
          },
          { name: 'restart', kind: 'restart', keepOnFail: true },
          {
            name: 'ready',
            kind: 'waitfor',
            path: 'ms.sock',
            timeoutMs: 1500,
            keepOnFail: true,
            breakOnFail: true,
            onFail: [append(f('ms-page.txt'), 'page oncall: $HAM_ENTITY')],
          },
          { name: 'after', kind: 'execute', argv: ['sh', '-c', `echo ok >> ${f('ms-after.txt')}`], keepOnFail: true },
        ],
      },
    });
    // Run 1: the restarted process creates the socket.
    let pid = entity(await status(t.home), 'ms').pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('run 1 done', () => lines(f('ms-after.txt')).length === 1);
    expect(lines(f('ms-notes.txt'))).toEqual([`ms SIGKILL ${pid}`]);
    expect(lines(f('ms-page.txt'))).toEqual([]);
    let s = await status(t.home);
    expect(entity(s, 'ms')).toMatchObject({ restarts: 1, state: 'running' });
    // Run 2: the restarted process never creates it.
    writeFileSync(f('broken'), '');
    pid = entity(s, 'ms').pid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('oncall paged', () => lines(f('ms-page.txt')).length === 1);
    s = await waitStatus(t.home, 'restarted anyway', (x) => entity(x, 'ms').restarts === 2);
    const c = entity(s, 'ms').conditions.find((x) => x.name === 'died')!;
    await waitFor('the run to end', async () => (await condition('ms', 'died')).actions[2]!.runs === 2);
    const done = await condition('ms', 'died');
    expect(done.actions.map((a) => [a.name, a.runs, a.failures])).toEqual([
      ['note', 2, 0],
      ['restart', 2, 0],
      ['ready', 2, 1],
      ['after', 1, 0], // skipped by breakOnFail in run 2
    ]);
    expect(lines(f('ms-after.txt'))).toHaveLength(1);
    expect(lines(f('ms-page.txt'))).toEqual(['page oncall: ms']);
    expect(c.fired).toBe(2);
  });
});
