// One-shot conditions (no rearm) pruned at a restart, and `ham apply` of the
// same file afterwards (pure): the pruned one stays spent and the plan reports
// no change; a changed declaration, or `ham condition add`, arms it again.
import { describe, expect, it } from 'vitest';
import { planApply, type World } from '../../src/ham/apply-plan.js';
import { blankEntity } from '../../src/ham/entity-records.js';
import { forgetSpent, MAX_SPENT, pruneOneShot } from '../../src/ham/spent-conditions.js';
import type { EntityRecord } from '../../src/model/records.js';

const world = (entities: EntityRecord[]): World => ({
  cwd: '/srv',
  home: '/var/lib/ham',
  baseEnv: { PATH: '/usr/bin:/bin' },
  groups: {},
  entity: (name) => entities.find((e) => e.name === name),
  entities: () => entities,
  executableProblem: () => undefined,
  pidRunning: () => false,
  tick: () => undefined,
});

const once = { type: 'death', actions: [{ kind: 'restart' }] };
const logged = { type: 'restart', rearm: true, actions: [{ kind: 'log' }] };
const file = (died: object | null = once) => ({ entities: { web: { command: ['sleep', '100'], conditions: { ...(died ? { died } : {}), logged } } } });

async function plan(config: object, e?: EntityRecord) {
  const r = await planApply(config, world(e ? [e] : []));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.plan;
}

/** web as the file made it, after a restart pruned its one-shot `died`. */
async function restarted(): Promise<EntityRecord> {
  const e = blankEntity((await plan(file())).creates[0]!, 1);
  e.conditions[0]!.fired = 1; // fired before it was pruned: counters are not the declaration
  pruneOneShot(e);
  expect(e.conditions.map((c) => c.name)).toEqual(['logged']);
  return e;
}

describe('spent one-shot conditions', () => {
  it('re-applying the same file after the restart changes nothing', async () => {
    const p = await plan(file(), await restarted());
    expect(p.changes).toEqual([{ entity: 'web', change: 'unchanged', details: [] }]);
    expect(p.updates).toEqual([]);
  });

  it('a changed declaration arms it again (and it is no longer spent)', async () => {
    const p = await plan(file({ ...once, actions: [{ kind: 'log' }, { kind: 'restart' }] }), await restarted());
    expect(p.changes[0]).toMatchObject({ change: 'updated', details: ['condition died added'] });
    expect(p.updates[0]!.conditions!.map((c) => c.name)).toEqual(['died', 'logged']);
    expect(p.updates[0]!.spent).toEqual([]);
  });

  it('a file without it forgets it: a later file with it arms it', async () => {
    const e = await restarted();
    const p = await plan(file(null), e);
    expect(p.changes[0]).toMatchObject({ change: 'updated', details: ['condition died (pruned at a restart) forgotten'] });
    e.spentConditions = p.updates[0]!.spent!;
    expect((await plan(file(), e)).changes[0]).toMatchObject({ change: 'updated', details: ['condition died added'] });
  });

  it('`ham condition add` of that name arms it; the list is bounded', async () => {
    const e = await restarted();
    forgetSpent(e, 'died');
    expect(e.spentConditions).toEqual([]);
    for (let i = 0; i < MAX_SPENT + 5; i++) {
      e.conditions.push({ ...e.conditions[0]!, name: `c${i}`, rearm: false });
      pruneOneShot(e);
    }
    expect(e.spentConditions).toHaveLength(MAX_SPENT);
    expect(e.spentConditions!.at(-1)!.name).toBe(`c${MAX_SPENT + 4}`);
  });
});
