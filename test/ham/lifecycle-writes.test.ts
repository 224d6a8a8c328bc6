// The lifecycle rows and helpers the supervisor's former direct writers now go
// through (hold instead of a start, a start after a hold, a new keeper, a fresh
// start), and the readers that replaced the stored fields. Pure: no store, no process.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adoptedLife,
  awaitingOf,
  holdOf,
  keeperFailedLife,
  lifeFields,
  restartAtOf,
  restartComing,
  restartingOf,
  spawningLife,
  stopWanted,
  unstoppedLife,
  viewState,
  type Life,
} from '../../src/ham/lifecycle.js';
import { transition, type Outcome } from '../../src/ham/lifecycle-table.js';
import { anyLife, dead, failed, held, idle, running, SPAWNED, starting, stopped, stopping } from '../helpers/life.js';

function go(l: Life, ev: Parameters<typeof transition>[1]): Outcome {
  const o = transition(l, ev, SPAWNED);
  if (!o) throw new Error(`${l.tag} × ${ev.tag} was ignored`);
  return o;
}
const instead = (why: 'group' | 'requires', keeperless = true) => ({ tag: 'hold-instead' as const, why, keeperless });

const life = anyLife;

describe('held instead of started', () => {
  it('a new entity no keeper started yet: held, nothing to signal', () => {
    expect(go(starting(), instead('requires'))).toEqual({ next: held('requires'), effects: [{ kind: 'cancel-restart' }], occurrences: [], marks: [] });
    expect(go(idle, instead('group')).next).toEqual(held('group'));
  });

  it('a dead one about to restart: held, its restart cancelled, the keeper parked on the death let go', () => {
    expect(go(dead(4, { at: 9 }), instead('requires'))).toEqual({
      next: held('requires', 4),
      effects: [{ kind: 'cancel-restart' }, { kind: 'release-keeper', seq: 4 }],
      occurrences: [],
      marks: [],
    });
    expect(go(dead(4, 'undecided'), instead('group')).next).toEqual(held('group', 4));
  });

  it('stopped or held already: held for this reason, a parked keeper let go', () => {
    expect(go(stopped(2), instead('requires')).next).toEqual(held('requires', 2));
    expect(go(held('group', 3), instead('requires'))).toMatchObject({
      next: held('requires', 3),
      effects: [{ kind: 'cancel-restart' }, { kind: 'release-keeper', seq: 3 }],
    });
  });

  it('something a keeper may be starting or running: stopped as a hold stops it', () => {
    for (const l of [starting(true, 5), running, stopping('stopped')]) {
      const o = go(l, instead('group', false));
      expect(o).toEqual(go(l, { tag: 'hold', why: 'group' }));
      expect(o.effects).toContainEqual({ kind: 'signal', signal: 'stop' });
    }
  });

  it('failed stays failed (only `ham reset` brings it back); a parked keeper is let go', () => {
    expect(go(failed(7), instead('requires'))).toEqual({ next: failed(7), effects: [{ kind: 'release-keeper', seq: 7 }], occurrences: [], marks: [] });
    expect(transition(failed(), instead('requires'), SPAWNED)).toBeNull();
  });
});

describe("a new keeper's start", () => {
  it('adopting a running process: it runs; one being stopped stays stopping (its hold kept)', () => {
    expect(adoptedLife(starting(true, 3))).toEqual(running);
    expect(adoptedLife(running)).toEqual(running);
    expect(adoptedLife(stopping('group', false, true, 2))).toEqual(stopping('group', true, false, null));
    expect(adoptedLife(held('requires', 4))).toEqual(stopping('requires', true, false, null));
  });

  it('starting the command: a hold ends; asked to stop meanwhile, it is stopped once it runs', () => {
    expect(spawningLife(dead(3, { at: 1 }), true)).toEqual(starting(true, null));
    expect(spawningLife(idle, false)).toEqual(starting(false, null));
    expect(spawningLife(stopping('group', false), true)).toEqual(stopping('stopped', false, true, null));
  });

  it('the keeper could not be started: the start failed, or the stop under way ends', () => {
    expect(keeperFailedLife(starting(true, null))).toEqual(dead(null, 'none'));
    expect(keeperFailedLife(stopping('requires', false))).toEqual(held('requires'));
    expect(keeperFailedLife(stopping('stopped', false))).toEqual(stopped());
  });

  it('wanted running again: a stop under way dropped, a bare stop forgotten', () => {
    expect(unstoppedLife(stopping('stopped', true))).toEqual(running);
    expect(unstoppedLife(stopping('group', false, true, 6))).toEqual(starting(true, 6));
    expect(unstoppedLife(stopped())).toEqual(idle);
    expect(unstoppedLife(stopped(2))).toEqual(stopped(2));
    expect(unstoppedLife(dead(1))).toEqual(dead(1));
  });
});

describe('the readers', () => {
  it('each says what the field of that name an older ham stored said', () => {
    fc.assert(
      fc.property(life, (l) => {
        const f = lifeFields(l);
        expect(viewState(l)).toBe(f.state);
        expect(stopWanted(l)).toBe(f.desired === 'stopped');
        expect(holdOf(l)).toBe(f.held);
        expect(awaitingOf(l)).toBe(f.awaiting);
        expect(restartingOf(l)).toBe(f.restarting);
        expect(restartComing(l)).toBe(f.restartPending);
        expect(restartAtOf(l)).toBe(f.restartAt);
      }),
    );
  });
});

describe('attach, self-attach, detach', () => {
  const all: Life[] = [idle, starting(), running, dead(2, { at: 3 }), stopping('group'), stopped(1), held('requires', 2), failed(3)];

  it('attach: a declared entity starts next, its attach fires; only a never-started one is attached', () => {
    expect(go(idle, { tag: 'attach' })).toEqual({ next: starting(false), effects: [], occurrences: [{ type: 'attach' }], marks: [] });
    for (const l of all.slice(1)) expect(transition(l, { tag: 'attach' }, SPAWNED), l.tag).toBeNull();
  });

  it('self-attach: the next instance runs, counted, its attach fires; one being stopped stays stopping', () => {
    for (const l of all) {
      const o = go(l, { tag: 'self-attach' });
      expect(o.next).toEqual(adoptedLife(l));
      expect(o.marks).toEqual(['instance']);
      expect(o.occurrences).toEqual([{ type: 'attach' }]);
      expect(o.effects).toEqual([]);
    }
    expect(go(stopping('group', false), { tag: 'self-attach' }).next).toEqual(stopping('group', true));
  });

  it('detach in every state: removed, detach fired, its keeper let go (the process keeps running)', () => {
    for (const l of all) {
      const o = go(l, { tag: 'detach' });
      expect(o.next).toBe('removed');
      expect(o.occurrences).toEqual([{ type: 'detach' }]);
      expect(o.effects.map((e) => e.kind)).toEqual(['untrack-heartbeats', 'forget-health', 'cancel-restart', 'detach-keeper', 'remove']);
    }
  });
});

describe('a stop of a command forked but not yet exec’d (P, no S)', () => {
  const orphaned = { tag: 'keeper-gone' as const, orphan: true, dismissed: false, now: 1 };

  it('with its keeper alive: S sends the stop signal again (the forked copy ignored the first)', () => {
    expect(go(stopping('stopped', false), { tag: 'S' }).effects).toContainEqual({ kind: 'signal', signal: 'stop' });
  });

  it('its keeper died before the exec: the process is adopted and the stop signal goes again, so the stop holds', () => {
    for (const then of ['stopped', 'group', 'requires'] as const) {
      const o = go(stopping(then, false, true, 4), orphaned);
      expect(o.next).toEqual(stopping(then, true, false, null));
      expect(o.effects).toEqual([
        { kind: 'spawn-keeper', restart: false, adopt: true },
        { kind: 'signal', signal: 'stop' },
      ]);
    }
  });

  it('one that had exec’d already got its signal: only adopted', () => {
    expect(go(stopping('stopped', true), orphaned).effects).toEqual([{ kind: 'spawn-keeper', restart: false, adopt: true }]);
  });
});
