// The one validation pipeline over the wire, against a real daemon: the
// restart rules (written once) refuse with `issues` as data through the
// client library; an action added without a name is named after its kind
// (the cast that glued its type hid that it was stored nameless).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HamError } from '../../src/errors.js';
import { entity } from '../helpers/entities.js';
import { CALM, ham, hamJson, request, sleeper, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
  await hamJson(t.home, ['attach', 'v', '--', ...sleeper(`${t.home}/v`)]);
  await request(t.home, 'condition-add', { entity: 'v', name: 'r', condition: { type: 'raise' } });
  await request(t.home, 'condition-add', { entity: 'v', name: 'd', condition: { type: 'death', actions: [{ kind: 'restart' }] } });
});
afterAll((suite) => t.cleanup({ task: suite }));

async function refusal(op: string, args: object): Promise<HamError> {
  const e = await request(t.home, op, args).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HamError);
  return e as HamError;
}

describe('restart rules, with issues as data', () => {
  it('restart on a raise condition, in a fail-action, twice on an entity, on *', async () => {
    const onRaise = await refusal('action-add', { entity: 'v', condition: 'r', action: { kind: 'restart' } });
    expect(onRaise.issues).toEqual([{ path: 'action-add.action.kind', expected: 'expected restart only on a death or abnormal-death condition, r is raise' }]);
    const inFail = await refusal('condition-add', {
      entity: 'v',
      name: 'd2',
      condition: { type: 'death', actions: [{ kind: 'log', onFail: [{ kind: 'restart' }] }] },
    });
    expect(inFail.issues).toEqual([
      { path: 'condition-add.condition.actions[0].onFail[0].kind', expected: 'expected no restart among fail-actions', got: '"restart"' },
    ]);
    const twice = await refusal('condition-add', { entity: 'v', name: 'd3', condition: { type: 'abnormal-death', actions: [{ kind: 'restart' }] } });
    expect(twice.code).toBe('bad-request');
    expect(twice.issues).toEqual([{ path: 'condition-add.condition.actions', expected: 'expected at most one restart action per entity, v would have 2' }]);
    const global = await refusal('condition-add', { entity: '*', name: 'g', condition: { type: 'death', actions: [{ kind: 'restart' }] } });
    expect(global.issues![0]!.expected).toMatch(/^expected no restart action on the global entity \*/);
    // The CLI prints the same as before: the message, not the data.
    const cli = await ham(t.home, ['action', 'add', 'v', 'r', 'again', '--kind', 'restart']);
    expect(cli.stderr).toContain('bad-request: action-add.action.kind: expected restart only on a death or abnormal-death condition, r is raise');
    expect(entity(await status(t.home), 'v').conditions.map((c) => c.name)).toEqual(['r', 'd']);
  });
});

describe('action-add with a restart among its own fail-actions', () => {
  it('is refused on any condition, naming the nested restart; nothing is stored (condition-add and apply refuse the same)', async () => {
    const e = await refusal('action-add', {
      entity: 'v',
      condition: 'r',
      action: { kind: 'log', name: 'nested', message: 'x', onFail: [{ kind: 'log', message: 'y', onFail: [{ kind: 'restart' }] }] },
    });
    expect(e.issues).toEqual([{ path: 'action-add.action.onFail[0].onFail[0].kind', expected: 'expected no restart among fail-actions', got: '"restart"' }]);
    const onDeath = await refusal('action-add', {
      entity: 'v',
      condition: 'd',
      action: { kind: 'log', name: 'n2', message: 'x', onFail: [{ kind: 'restart' }] },
    });
    expect(onDeath.issues).toEqual([{ path: 'action-add.action.onFail[0].kind', expected: 'expected no restart among fail-actions', got: '"restart"' }]);
    const conds = entity(await status(t.home), 'v').conditions;
    expect(conds.flatMap((c) => c.actions.map((x) => x.name))).not.toContain('nested');
    expect(conds.flatMap((c) => c.actions.map((x) => x.name))).not.toContain('n2');
  });
});

describe('action-add without a name', () => {
  it('is named after its kind; a second one so named is a duplicate', async () => {
    await request(t.home, 'action-add', { entity: 'v', condition: 'r', action: { kind: 'log', message: 'hi' } });
    expect(
      entity(await status(t.home), 'v')
        .conditions.find((c) => c.name === 'r')!
        .actions.map((a) => a.name),
    ).toEqual(['log']);
    expect((await refusal('action-add', { entity: 'v', condition: 'r', action: { kind: 'log' } })).code).toBe('duplicate-action');
  });
});
