// The pure planner of `ham apply`: a parsed file and a World in, a plan or
// every problem out. No HAM, no process: the World answers from memory.
import { describe, expect, it } from 'vitest';
import { planApply, type World } from '../../src/ham/apply-plan.js';
import type { EntityRecord } from '../../src/model/records.js';

function world(entities: EntityRecord[] = []): World {
  return {
    cwd: '/srv',
    home: '/var/lib/ham',
    baseEnv: { PATH: '/usr/bin:/bin' },
    groups: {},
    entity: (name) => entities.find((e) => e.name === name),
    entities: () => entities,
    executableProblem: (cmd) => (cmd === 'missing' ? { expected: 'expected an executable file', got: `"${cmd}" (not found in PATH)` } : undefined),
    pidRunning: (pid) => pid === 4242,
    tick: () => undefined,
  };
}

describe('planApply', () => {
  it('a string command does not hide a bad type elsewhere: both are listed', async () => {
    const r = await planApply({ entities: { web: { command: 'sleep 1', conditions: { died: { type: 'deth' } } } } }, world());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path)).toEqual(['entities.web.command', 'entities.web.conditions.died.type']);
    expect(r.issues[0]).toEqual({ path: 'entities.web.command', expected: 'expected array', got: '"sleep 1"' });
  });

  it('several problems of several kinds, each with its path, expected and got', async () => {
    const r = await planApply(
      {
        entities: {
          a: { command: ['missing'], conditions: { r: { type: 'raise', actions: [{ kind: 'restart' }] } } },
          b: { pid: 99, requires: ['nope'] },
          c: { command: ['ok'], conditions: { d1: { type: 'death', actions: [{ kind: 'restart' }] }, d2: { type: 'death', actions: [{ kind: 'restart' }] } } },
          'x y': { placeholder: true, extra: 1 },
        },
      },
      world(),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual([
      {
        path: 'entities.a.conditions.r.actions[0].kind',
        expected: 'expected restart only on a death or abnormal-death condition, this one is raise',
        got: '"restart"',
      },
      { path: 'entities.a.command[0]', expected: 'expected an executable file', got: '"missing" (not found in PATH)' },
      { path: 'entities.b.pid', expected: 'expected a running process', got: '99 (no such process)' },
      { path: 'entities.b.requires', expected: 'only an entity with a command can be in a group or require others (the HAM stops and starts it)' },
      { path: 'entities.b.requires[0]', expected: 'expected an entity in this file or attached', got: '"nope"' },
      { path: 'entities.c.conditions', expected: 'expected at most one restart action per entity, c would have 2' },
      { path: 'entities["x y"].extra', expected: 'unexpected field' },
    ]);
  });

  it('a valid file is a plan of data: creates, then unchanged against the entities it made', async () => {
    const file = { entities: { web: { command: ['sleep', '100'], env: { A: '1' }, conditions: { died: { type: 'death', actions: [{ kind: 'restart' }] } } } } };
    const first = await planApply(file, world());
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.plan.changes).toEqual([{ entity: 'web', change: 'created', details: ['spawned', 'condition died added'] }]);
    expect(first.plan.creates).toHaveLength(1);
    expect(first.plan.creates[0]).toMatchObject({ name: 'web', kind: 'spawned', argv: ['sleep', '100'], env: { A: '1' }, cwd: '/srv' });
    expect(first.plan.updates).toEqual([]);
    const made = { ...first.plan.creates[0]!, state: 'running' } as unknown as EntityRecord;
    const again = await planApply(file, world([made]));
    expect(again).toEqual({ ok: true, plan: { creates: [], updates: [], changes: [{ entity: 'web', change: 'unchanged', details: [] }] } });
    const changed = await planApply({ entities: { web: { ...file.entities.web, env: { A: '2' } } } }, world([made]));
    expect(changed.ok && changed.plan.updates).toEqual([{ name: 'web', config: { argv: ['sleep', '100'], env: { A: '2' }, cwd: '/srv' } }]);
  });

  it('an unexpected top-level key does not hide the problems in the entities', async () => {
    const r = await planApply({ entitys: {}, entities: { w: { command: ['ok'], bogus: true } } }, world());
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual([
        { path: 'entitys', expected: 'unexpected field (did you mean entities?)' },
        { path: 'entities.w.bogus', expected: 'unexpected field' },
      ]);
    const wrong = await planApply({ entities: [] }, world());
    expect(wrong).toEqual({ ok: false, issues: [{ path: 'entities', expected: 'expected object', got: 'an array of 0' }] });
  });

  it('a misspelt field is named with its nearest (did you mean); one far from every field is not', async () => {
    const r = await planApply({ entities: { w: { command: ['ok'], comand: ['x'], readyness: {}, reloadsignal: 'SIGHUP', zzzzzz: 1 } } }, world());
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual([
        { path: 'entities.w.comand', expected: 'unexpected field (did you mean command?)' },
        { path: 'entities.w.readyness', expected: 'unexpected field (did you mean readiness?)' },
        { path: 'entities.w.reloadsignal', expected: 'unexpected field (did you mean reloadSignal?)' },
        { path: 'entities.w.zzzzzz', expected: 'unexpected field' },
      ]);
  });

  it('a misspelt field inside readiness, logs (per entity and top-level), stop, restart or a group is named with its nearest', async () => {
    const r = await planApply(
      {
        logs: { maxbytes: 8192 },
        groups: { g: { stratgy: 'one-for-all' } },
        entities: {
          w: {
            command: ['ok'],
            readiness: { tcp: 8080, timeoutMS: 1000, intervall: 50, zzzzzz: 1 },
            logs: { keap: 3, maxByte: 4096 },
            stop: { timeout: 100 },
            restart: { intensty: { max: 3, withinMs: 1000 } },
          },
        },
      },
      world(),
    );
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual(
        expect.arrayContaining([
          { path: 'logs.maxbytes', expected: 'unexpected field (did you mean maxBytes?)' },
          { path: 'groups.g.stratgy', expected: 'unexpected field (did you mean strategy?)' },
          { path: 'entities.w.readiness.timeoutMS', expected: 'unexpected field (did you mean timeoutMs?)' },
          { path: 'entities.w.readiness.intervall', expected: 'unexpected field (did you mean intervalMs?)' },
          { path: 'entities.w.readiness.zzzzzz', expected: 'unexpected field' },
          { path: 'entities.w.logs.keap', expected: 'unexpected field (did you mean keep?)' },
          { path: 'entities.w.logs.maxByte', expected: 'unexpected field (did you mean maxBytes?)' },
          { path: 'entities.w.stop.timeout', expected: 'unexpected field (did you mean timeoutMs?)' },
          { path: 'entities.w.restart.intensty', expected: 'unexpected field (did you mean intensity?)' },
        ]),
      );
  });

  it('reloadSignal is kept with the stop policy; a bad one is named', async () => {
    const r = await planApply({ entities: { w: { command: ['ok'], reloadSignal: 'SIGUSR2' } } }, world());
    expect(r.ok && r.plan.creates[0]!.stopPolicy).toEqual({ signal: 'SIGTERM', timeoutMs: 5000, reloadSignal: 'SIGUSR2' });
    const bad = await planApply({ entities: { w: { command: ['ok'], reloadSignal: 'HUP!' } } }, world());
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path)).toEqual(['entities.w.reloadSignal']);
  });

  it('a dependency cycle through an attached entity is a problem', async () => {
    const attached = { name: 'db', requires: ['web'], kind: 'spawned', conditions: [] } as unknown as EntityRecord;
    const r = await planApply({ entities: { web: { command: ['ok'], requires: ['db'] } } }, world([attached]));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual([{ path: 'entities.db.requires', expected: 'a dependency cycle: db → web → db' }]);
  });
});
