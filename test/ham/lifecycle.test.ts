// The lifecycle table on its own: no store, no process. Each case names a
// state, an event, and what must come of it (next state, effects, occurrences).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lifeFields, lifeOf, LIFE_TAGS, viewState, type Life, type LifeFields } from '../../src/ham/lifecycle.js';
import { EVENT_TAGS, type Effect, type LifeContext, type LifeEvent } from '../../src/ham/lifecycle-events.js';
import { LIFECYCLE, transition, withRestartDecision, type LifeTable, type Outcome } from '../../src/ham/lifecycle-table.js';
import { anyLife, dead, failed, held, idle, running, SPAWNED, starting, stopped, stopping } from '../helpers/life.js';

const SELF: LifeContext = { kind: 'self', hasCommand: false };
const EXIT0 = { code: 0, signal: null, core: false };
const KILLED = { code: null, signal: 'SIGKILL', core: false };
const SEGV = { code: null, signal: 'SIGSEGV', core: true };

const ALL: Life[] = [
  idle,
  starting(),
  starting(true, 3),
  running,
  dead(2),
  dead(2, 'undecided'),
  dead(2, { at: 5 }),
  stopping(),
  stopping('group', false, true, 4),
  stopped(1),
  held('requires', 2),
  failed(3),
];

function go(l: Life, ev: LifeEvent, ctx: LifeContext = SPAWNED): Outcome {
  const o = transition(l, ev, ctx);
  if (!o) throw new Error(`${l.tag} × ${ev.tag} was ignored`);
  return o;
}
const kinds = (effects: Effect[]): string[] => effects.map((e) => e.kind);
const types = (o: Outcome): string[] => o.occurrences.map((x) => x.type);

describe('the table is total', () => {
  it('has an entry, a handler or an explicit ignore, for every state × event', () => {
    for (const s of LIFE_TAGS) for (const e of EVENT_TAGS) expect(LIFECYCLE[s][e], `${s} × ${e}`).toBeDefined();
    expect(Object.keys(LIFECYCLE).sort()).toEqual([...LIFE_TAGS].sort());
  });

  it('does not compile with a pair missing', () => {
    const { detach: _gone, ...rest } = LIFECYCLE.idle;
    // @ts-expect-error a row without `detach` is not a row of the table
    const row: LifeTable['idle'] = rest;
    expect(Object.keys(row)).not.toContain('detach');
  });
});

describe('keeper records', () => {
  it('K in any state: watch the keeper, nothing else changes', () => {
    for (const l of ALL) expect(go(l, { tag: 'K' })).toEqual({ next: l, effects: [{ kind: 'watch-keeper' }], occurrences: [], marks: [] });
  });

  it('P changes no state anywhere', () => {
    for (const l of ALL) expect(transition(l, { tag: 'P' }, SPAWNED)).toBeNull();
  });

  it('S of a first start: running, a new instance, the coordinator told; no restart fired', () => {
    const o = go(starting(false), { tag: 'S' });
    expect(o.next).toEqual(running);
    expect(o.marks).toEqual(['instance']);
    expect(types(o)).toEqual([]);
    expect(kinds(o.effects)).toEqual(['settled']);
  });

  it('S of a restart: running, counted, `restart` fires', () => {
    const o = go(starting(true, 7), { tag: 'S' });
    expect(o.next).toEqual(running);
    expect(o.marks).toEqual(['instance', 'restarts']);
    expect(types(o)).toEqual(['restart']);
  });

  it('S while asked to stop: the stop signal goes now, still stopping', () => {
    const o = go(stopping('group', false, true, 4), { tag: 'S' });
    expect(o.next).toEqual(stopping('group', true, false, null));
    expect(o.effects).toEqual([{ kind: 'signal', signal: 'stop' }, { kind: 'settled' }]);
    expect(types(o)).toEqual(['restart']);
  });

  it('S where no start was asked for is ignored', () => {
    for (const l of [idle, dead(1), stopped(1), held('group', 1), failed(1)]) expect(transition(l, { tag: 'S' }, SPAWNED)).toBeNull();
  });

  it('F: the start failed, dead, its keeper told to exit', () => {
    const o = go(starting(true, 2), { tag: 'F', seq: 3 });
    expect(o.next).toEqual(dead(3, 'none'));
    expect(o.effects).toEqual([{ kind: 'release-keeper', seq: 3 }, { kind: 'settled' }]);
    expect(o.marks).toEqual(['start-failed', 'process-gone']);
    expect(o.occurrences).toEqual([]);
  });

  it('F while stopping ends where the stop ends: stopped or held', () => {
    expect(go(stopping('stopped', false), { tag: 'F', seq: 2 }).next).toEqual(stopped(2));
    expect(go(stopping('requires', false), { tag: 'F', seq: 2 }).next).toEqual(held('requires', 2));
    expect(transition(stopping('stopped', true), { tag: 'F', seq: 2 }, SPAWNED)).toBeNull();
  });

  it('F after the command ran is ignored (a keeper writes F only before S)', () => {
    for (const l of [running, idle, stopped(), failed()]) expect(transition(l, { tag: 'F', seq: 2 }, SPAWNED)).toBeNull();
  });

  it('X of a running process: dead, death fired, health and heartbeats forgotten, keeper let go, coordinator told', () => {
    const o = go(running, { tag: 'X', seq: 4, exit: EXIT0 });
    expect(o.next).toEqual(dead(4, 'none'));
    expect(o.occurrences).toEqual([{ type: 'death', decidesRestart: true }]);
    expect(o.effects).toEqual([{ kind: 'forget-health' }, { kind: 'untrack-heartbeats' }, { kind: 'release-keeper', seq: 4 }, { kind: 'down' }]);
    expect(o.marks).toEqual(['death', 'process-gone']);
  });

  it('X by a signal or with a core is an abnormal death', () => {
    expect(types(go(running, { tag: 'X', seq: 4, exit: SEGV }))).toEqual(['abnormal-death']);
    expect(types(go(running, { tag: 'X', seq: 4, exit: { code: null, signal: 'SIGABRT', core: false } }))).toEqual(['abnormal-death']);
  });

  it('X of a process we asked to stop is not a death', () => {
    const o = go(stopping('stopped'), { tag: 'X', seq: 5, exit: KILLED });
    expect(o.next).toEqual(stopped(5));
    expect(o.occurrences).toEqual([]);
    expect(o.marks).toEqual(['exit', 'process-gone']);
    expect(kinds(o.effects)).toEqual(['forget-health', 'untrack-heartbeats', 'release-keeper', 'down']);
    expect(go(stopping('group'), { tag: 'X', seq: 5, exit: KILLED }).next).toEqual(held('group', 5));
  });

  it('a stop or a hold that ended its process: its heartbeats (a notify watchdog, a self-attached one) are no longer watched', () => {
    for (const l of [stopping('stopped'), stopping('group'), stopping('requires')]) {
      expect(kinds(go(l, { tag: 'X', seq: 5, exit: KILLED }).effects), `X in ${JSON.stringify(l)}`).toContain('untrack-heartbeats');
      expect(kinds(go(l, { tag: 'keeper-gone', orphan: false, dismissed: false, now: 1 }).effects), `keeper-gone in ${JSON.stringify(l)}`).toContain(
        'untrack-heartbeats',
      );
    }
    expect(kinds(go(stopping('stopped'), { tag: 'conn-closed', alive: true }, SELF).effects)).toContain('untrack-heartbeats');
  });

  it('X of a self-attached entity whose connection already closed: no second death', () => {
    const o = go(dead(null, 'none'), { tag: 'X', seq: 2, exit: EXIT0 }, SELF);
    expect(o.next).toEqual(dead(2, 'none'));
    expect(o.occurrences).toEqual([]);
    expect(o.effects).toEqual([{ kind: 'release-keeper', seq: 2 }, { kind: 'down' }]);
    // A restart being decided keeps the keeper.
    expect(kinds(go(dead(null, 'undecided'), { tag: 'X', seq: 2, exit: EXIT0 }, SELF).effects)).toEqual(['down']);
  });

  it('X in a stopped, held or failed state only lets the keeper go', () => {
    for (const l of [stopped(), held('requires'), failed()]) {
      const o = go(l, { tag: 'X', seq: 9, exit: EXIT0 });
      expect(o.next).toMatchObject({ tag: l.tag, parked: 9 });
      expect(o.occurrences).toEqual([]);
      expect(o.effects).toContainEqual({ kind: 'release-keeper', seq: 9 });
    }
  });
});

describe('a death decides about its restart', () => {
  it('a fired restart action makes the death undecided and keeps the keeper', () => {
    const o = withRestartDecision(go(running, { tag: 'X', seq: 4, exit: EXIT0 }), true);
    expect(o.next).toEqual(dead(4, 'undecided'));
    expect(kinds(o.effects)).not.toContain('release-keeper');
  });

  it('without a restart action the death stays decided: none', () => {
    const o = withRestartDecision(go(running, { tag: 'X', seq: 4, exit: EXIT0 }), false);
    expect(o.next).toEqual(dead(4, 'none'));
  });

  it('a stop is never turned into a restart', () => {
    const o = withRestartDecision(go(stopping(), { tag: 'X', seq: 4, exit: EXIT0 }), true);
    expect(o.next).toEqual(stopped(4));
  });

  it('the restart action decides once: a restart due at T, scheduled', () => {
    const o = go(dead(4, 'undecided'), { tag: 'restart-decided', at: 1000, over: false });
    expect(o.next).toEqual(dead(4, { at: 1000 }));
    expect(o.effects).toEqual([{ kind: 'schedule-restart', at: 1000 }]);
    expect(transition(dead(4, { at: 1000 }), { tag: 'restart-decided', at: 2000, over: false }, SPAWNED)).toBeNull();
  });

  it('over the intensity: failed, escalate fires once, the keeper let go', () => {
    const o = go(dead(4, 'undecided'), { tag: 'restart-decided', at: 1000, over: true });
    expect(o.next).toEqual(failed(4));
    expect(types(o)).toEqual(['escalate']);
    expect(o.effects).toEqual([{ kind: 'release-keeper', seq: 4 }]);
    expect(o.marks).toEqual(['escalated']);
  });

  it('a restart given up lets the keeper go', () => {
    const o = go(dead(4, { at: 10 }), { tag: 'restart-given-up' });
    expect(o.next).toEqual(dead(4, 'none'));
    expect(o.effects).toEqual([{ kind: 'release-keeper', seq: 4 }]);
    expect(transition(running, { tag: 'restart-given-up' }, SPAWNED)).toBeNull();
  });
});

describe('restart due', () => {
  const due = { tag: 'restart-due' as const, requirementsUp: true, groupBusy: false, takesAlong: false, keeperParked: true };

  it('through the parked keeper: starting as a restart, the keeper told to start again', () => {
    const o = go(dead(4, { at: 1 }), due);
    expect(o.next).toEqual(starting(true, 4));
    expect(o.effects).toEqual([{ kind: 'restart-keeper', seq: 4 }]);
  });

  it('without a live keeper: a new keeper', () => {
    const o = go(dead(4, { at: 1 }), { ...due, keeperParked: false });
    expect(o.next).toEqual(starting(true, null));
    expect(o.effects).toEqual([{ kind: 'spawn-keeper', restart: true, adopt: false }]);
    expect(o.marks).toEqual(['new-keeper']); // its reference is written with the state: one transaction
  });

  it('a requirement down: held for it, the keeper let go', () => {
    const o = go(dead(4, { at: 1 }), { ...due, requirementsUp: false });
    expect(o.next).toEqual(held('requires', 4));
    expect(o.effects).toEqual([{ kind: 'cancel-restart' }, { kind: 'release-keeper', seq: 4 }]);
  });

  it('its group restarting: tried again shortly; its group strategy: a group restart', () => {
    expect(go(dead(4, { at: 1 }), { ...due, groupBusy: true })).toMatchObject({ next: dead(4, { at: 1 }), effects: [{ kind: 'retry-restart' }] });
    expect(go(dead(4, { at: 1 }), { ...due, takesAlong: true })).toMatchObject({ next: dead(4, { at: 1 }), effects: [{ kind: 'group-restart' }] });
  });

  it('is ignored without a scheduled restart, and in every other state', () => {
    expect(transition(dead(4, 'none'), due, SPAWNED)).toBeNull();
    expect(transition(dead(4, 'undecided'), due, SPAWNED)).toBeNull();
    for (const l of [idle, starting(), running, stopping(), stopped(), held('group'), failed()]) expect(transition(l, due, SPAWNED)).toBeNull();
  });
});

describe('the keeper gone', () => {
  const gone = { tag: 'keeper-gone' as const, orphan: false, dismissed: false, now: 40 };

  it('with its running process: the death nobody saw (unknown status)', () => {
    const o = go(running, gone);
    expect(o.next).toEqual(dead(null, 'none'));
    expect(types(o)).toEqual(['death']);
    expect(kinds(o.effects)).toEqual(['forget-health', 'untrack-heartbeats', 'settled', 'down']);
  });

  it('leaving its process running: a new keeper adopts it', () => {
    expect(go(running, { ...gone, orphan: true })).toMatchObject({ next: running, effects: [{ kind: 'spawn-keeper', restart: false, adopt: true }] });
  });

  it('while starting, the command forked: it runs, adopted', () => {
    const o = go(starting(true, 2), { ...gone, orphan: true });
    expect(o.next).toEqual(running);
    expect(types(o)).toEqual(['restart']);
    expect(o.effects).toContainEqual({ kind: 'spawn-keeper', restart: false, adopt: true });
  });

  it('while starting, nothing forked: the start failed', () => {
    const o = go(starting(false), gone);
    expect(o.next).toEqual(dead(null, 'none'));
    expect(o.marks).toEqual(['start-failed', 'process-gone']);
    expect(kinds(o.effects)).toEqual(['settled', 'down']);
  });

  it('while a restart was starting, nothing forked: the restart is tried again now', () => {
    const o = go(starting(true, 2), gone);
    expect(o.next).toEqual(dead(null, { at: 40 }));
    expect(o.effects).toEqual([{ kind: 'schedule-restart', at: 40 }, { kind: 'settled' }, { kind: 'down' }]);
  });

  it('a second keeper lost before the exec ends the restart: no retry loop (a keeper that cannot record, a full disk)', () => {
    const o = go(starting(true, 2), { ...gone, retry: false });
    expect(o.next).toEqual(dead(null, 'none'));
    expect(o.marks).toEqual(['start-failed', 'process-gone']);
    expect(kinds(o.effects)).toEqual(['settled', 'down']);
  });

  it('after it was told to exit: nothing lost', () => {
    for (const l of [dead(3), stopped(3), held('group', 3), failed(3)])
      expect(go(l, { ...gone, dismissed: true })).toMatchObject({ next: { ...l, parked: null }, effects: [], occurrences: [] });
  });

  it('where nothing runs and it was not dismissed: the coordinator hears of it', () => {
    for (const l of [dead(null), stopped(), held('requires'), failed()])
      expect(go(l, gone)).toMatchObject({ next: l, effects: [{ kind: 'settled' }, { kind: 'down' }], occurrences: [] });
  });

  it('while a restart is due: the restart stays scheduled (a new keeper brings it)', () => {
    const o = go(dead(3, { at: 50 }), gone);
    expect(o.next).toEqual(dead(null, { at: 50 }));
    expect(o.effects).toContainEqual({ kind: 'schedule-restart', at: 50 });
  });

  it('while stopping: the stop is done', () => {
    expect(go(stopping('requires'), gone).next).toEqual(held('requires', null));
    expect(go(stopping('stopped', false), gone).next).toEqual(stopped(null));
  });
});

describe('self-attached connections', () => {
  it('a live process that hung up without a detach dies', () => {
    const o = go(running, { tag: 'conn-closed', alive: true }, SELF);
    expect(o.next).toEqual(dead(null, 'none'));
    expect(types(o)).toEqual(['death']);
  });

  it('an exited one is left to its keeper, and other kinds are not ours to judge by their connection', () => {
    expect(transition(running, { tag: 'conn-closed', alive: false }, SELF)).toBeNull();
    expect(transition(running, { tag: 'conn-closed', alive: true }, SPAWNED)).toBeNull();
    for (const l of [idle, starting(), dead(1), stopped(), held('group'), failed()])
      expect(transition(l, { tag: 'conn-closed', alive: true }, SELF)).toBeNull();
  });
});

describe('holds, releases, stops', () => {
  it('hold a running entity: stopping, then held; its stop signal goes', () => {
    const o = go(running, { tag: 'hold', why: 'group' });
    expect(o.next).toEqual(stopping('group'));
    expect(o.effects).toEqual([{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }]);
  });

  it('hold a dead one waiting to restart: held now, its keeper let go', () => {
    const o = go(dead(6, { at: 9 }), { tag: 'hold', why: 'requires' });
    expect(o.next).toEqual(held('requires', 6));
    expect(o.effects).toEqual([{ kind: 'cancel-restart' }, { kind: 'release-keeper', seq: 6 }]);
  });

  it('hold a starting one: it stops once it runs', () => {
    expect(go(starting(true, 2), { tag: 'hold', why: 'group' }).next).toEqual(stopping('group', false, true, 2));
  });

  it('hold what is already held for the same reason: ignored; failed and idle are not held', () => {
    expect(transition(held('group'), { tag: 'hold', why: 'group' }, SPAWNED)).toBeNull();
    expect(go(held('group'), { tag: 'hold', why: 'requires' }).next).toEqual(held('requires'));
    expect(transition(failed(), { tag: 'hold', why: 'group' }, SPAWNED)).toBeNull();
    expect(transition(idle, { tag: 'hold', why: 'group' }, SPAWNED)).toBeNull();
  });

  it('release a held entity: started again by a new keeper', () => {
    const o = go(held('group'), { tag: 'release', restart: true, keeperParked: false });
    expect(o.next).toEqual(starting(true));
    expect(o.effects).toEqual([{ kind: 'spawn-keeper', restart: true, adopt: false }]);
  });

  it('release a dead entity with a waiting keeper: through that keeper', () => {
    const o = go(dead(5, 'none'), { tag: 'release', restart: false, keeperParked: true });
    expect(o.next).toEqual(starting(false, 5));
    expect(o.effects).toEqual([{ kind: 'cancel-restart' }, { kind: 'restart-keeper', seq: 5 }]);
  });

  it('release a never-started entity (stop --all, then a fresh start): a new keeper starts it', () => {
    const o = go(idle, { tag: 'release', restart: false, keeperParked: false });
    expect(o.next).toEqual(starting(false));
    expect(o.effects).toEqual([{ kind: 'spawn-keeper', restart: false, adopt: false }]);
    expect(o.marks).toEqual(['new-keeper']);
  });

  it('release is ignored for what runs, is failed, or has no command', () => {
    expect(transition(idle, { tag: 'release', restart: false, keeperParked: false }, SELF)).toBeNull();
    for (const l of [running, starting(), stopping(), failed()])
      expect(transition(l, { tag: 'release', restart: false, keeperParked: false }, SPAWNED)).toBeNull();
    expect(transition(held('group'), { tag: 'release', restart: false, keeperParked: false }, SELF)).toBeNull();
  });

  it('stop what runs: stopping, its stop signal; the timeout: SIGKILL', () => {
    expect(go(running, { tag: 'stop' })).toMatchObject({
      next: stopping('stopped'),
      effects: [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }],
    });
    expect(go(stopping('stopped'), { tag: 'stop-timeout' })).toMatchObject({ next: stopping('stopped'), effects: [{ kind: 'signal', signal: 'SIGKILL' }] });
    expect(go(stopping('stopped', false), { tag: 'stop-timeout' }).effects).toEqual([{ kind: 'signal', signal: 'SIGKILL' }]);
    for (const l of [idle, starting(), running, dead(1), stopped(), held('group'), failed()])
      expect(transition(l, { tag: 'stop-timeout' }, SPAWNED)).toBeNull();
  });

  it('stop one about to restart: stopped, the restart cancelled, its keeper let go', () => {
    expect(go(dead(3, { at: 1 }), { tag: 'stop' })).toMatchObject({
      next: stopped(3),
      effects: [{ kind: 'cancel-restart' }, { kind: 'release-keeper', seq: 3 }],
    });
    expect(go(dead(3, 'undecided'), { tag: 'stop' }).next).toEqual(stopped(3));
  });

  it('stop is ignored where nothing runs or will', () => {
    for (const l of [idle, dead(3, 'none'), stopped(), held('group'), failed()]) expect(transition(l, { tag: 'stop' }, SPAWNED)).toBeNull();
  });

  it('stop what is already stopping (a hold): the signal again, still held after', () => {
    expect(go(stopping('group'), { tag: 'stop' })).toMatchObject({ next: stopping('group'), effects: [{ kind: 'signal', signal: 'stop' }] });
  });
});

describe('reset, detach, health kills', () => {
  it('reset a failed or dead entity: fresh counters, a restart due now', () => {
    for (const l of [failed(4), dead(4, 'none')]) {
      const o = go(l, { tag: 'reset', now: 77 });
      expect(o.next).toEqual(dead(4, { at: 77 }));
      expect(o.effects).toEqual([{ kind: 'schedule-restart', at: 77 }]);
      expect(o.marks).toEqual(['reset']);
    }
    expect(transition(failed(4), { tag: 'reset', now: 77 }, SELF)).toBeNull();
    for (const l of [running, starting(), stopped(), idle]) expect(transition(l, { tag: 'reset', now: 1 }, SPAWNED)).toBeNull();
  });

  it('detach in every state: removed, detach fired, its keeper let go with the process running', () => {
    for (const l of ALL) {
      const o = go(l, { tag: 'detach' });
      expect(o.next).toBe('removed');
      expect(types(o)).toEqual(['detach']);
      expect(kinds(o.effects)).toEqual(['untrack-heartbeats', 'forget-health', 'cancel-restart', 'detach-keeper', 'remove']);
    }
  });

  it('a health kill is a SIGKILL to what runs, and nothing elsewhere', () => {
    expect(go(running, { tag: 'health-kill' })).toMatchObject({ next: running, effects: [{ kind: 'signal', signal: 'SIGKILL' }] });
    for (const l of [idle, starting(), dead(1), stopped(), failed()]) expect(transition(l, { tag: 'health-kill' }, SPAWNED)).toBeNull();
  });
});

describe('the stored fields', () => {
  // As stored: a stopping entity that had started carries no restart and no via.
  const life = anyLife.map((l) => (l.tag === 'stopping' && l.started ? { ...l, restart: false, via: null } : l));
  const oldFields = fc.record({
    state: fc.constantFrom('starting' as const, 'running' as const, 'dead' as const, 'stopped' as const, 'failed' as const),
    desired: fc.constantFrom('running' as const, 'stopped' as const),
    held: fc.constantFrom(null, 'group' as const, 'requires' as const),
    restarting: fc.boolean(),
    restartPending: fc.boolean(),
    awaiting: fc.option(fc.nat()),
    restartAt: fc.option(fc.nat()),
  }) as fc.Arbitrary<LifeFields>;

  it('every lifecycle reads back as itself', () => {
    fc.assert(fc.property(life, (l) => void expect(lifeOf(lifeFields(l))).toEqual(l)));
  });

  it('any combination an older ham wrote reads as one lifecycle, stable once written back, with the same view state', () => {
    fc.assert(
      fc.property(oldFields, (f) => {
        const l = lifeOf(f);
        expect(LIFE_TAGS).toContain(l.tag);
        expect(lifeOf(lifeFields(l))).toEqual(l);
        expect(viewState(l)).toBe(f.state === 'dead' && f.desired === 'stopped' ? 'stopped' : f.state);
      }),
    );
  });

  it('a record from before the newer fields (no held, no restartPending) reads as what it was', () => {
    const old = { state: 'running', desired: 'running', awaiting: null, restarting: false, restartAt: null } as unknown as LifeFields;
    expect(lifeOf(old)).toEqual(running);
    expect(lifeOf({ ...old, state: 'dead', restartAt: 123 })).toEqual(dead(null, { at: 123 }));
    expect(lifeOf({ ...old, state: 'stopped', desired: 'stopped', awaiting: 4 })).toEqual(stopped(4));
    expect(lifeOf({ ...old, state: 'stopped' })).toEqual(idle);
  });
});
