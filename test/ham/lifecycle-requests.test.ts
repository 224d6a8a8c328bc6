// The lifecycle table's rows for requests by name (ham stop|start|restart NAME): pure, no process.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adoptedLife, keptStopped, settledLife, spawningLife, unstoppedLife, type Life } from '../../src/ham/lifecycle.js';
import type { LifeContext, LifeEvent } from '../../src/ham/lifecycle-events.js';
import { transition, type Outcome } from '../../src/ham/lifecycle-table.js';
import { anyLife, dead, failed, held, idle, running, SPAWNED, starting, stopped, stopping } from '../helpers/life.js';

const PID: LifeContext = { kind: 'pid', hasCommand: false };
const STOP: LifeEvent = { tag: 'ask-stop', restart: false, keeperParked: false };
const RESTART: LifeEvent = { tag: 'ask-stop', restart: true, keeperParked: true };
const START: LifeEvent = { tag: 'ask-start', keeperParked: true };
const EXIT = { code: null, signal: 'SIGTERM', core: false };
const kept: Life = { tag: 'stopped', parked: null, kept: true };
const byName = (request: 'stop' | 'restart', started = true): Life => ({ ...(stopping('stopped', started) as Extract<Life, { tag: 'stopping' }>), request });

function go(l: Life, ev: LifeEvent, ctx: LifeContext = SPAWNED): Outcome {
  const o = transition(l, ev, ctx);
  if (!o) throw new Error(`${l.tag} × ${ev.tag} was ignored`);
  return o;
}
const kinds = (o: Outcome): string[] => o.effects.map((e) => e.kind);
const said = (o: Outcome): unknown[] => o.occurrences.map((x) => (x.type === 'requested' ? `requested ${x.request}` : x.type));

describe('ham stop NAME', () => {
  it('running: its stop signal, stopping by name; said in the event log', () => {
    const o = go(running, STOP);
    expect(o.next).toEqual({ tag: 'stopping', started: true, restart: false, via: null, then: 'stopped', request: 'stop' });
    expect(kinds(o)).toEqual(['cancel-restart', 'signal']);
    expect(said(o)).toEqual(['requested stop']);
  });

  it('its exit: stopped and kept so, not a death (no death occurrence, no death mark)', () => {
    const o = go(byName('stop'), { tag: 'X', seq: 7, exit: EXIT });
    expect(o.next).toEqual({ tag: 'stopped', parked: 7, kept: true });
    expect(o.occurrences).toEqual([]);
    expect(o.marks).toEqual(['exit', 'process-gone']);
    expect(kinds(o)).toContain('release-keeper');
  });

  it('dead, held or failed: kept stopped at once, a parked keeper let go, a restart coming cancelled', () => {
    for (const l of [dead(4, { at: 9 }), held('requires', 4), failed(4)]) {
      const o = go(l, STOP);
      expect(o.next, l.tag).toEqual({ tag: 'stopped', parked: 4, kept: true });
      expect(kinds(o), l.tag).toEqual(['cancel-restart', 'release-keeper']);
    }
  });

  it('a hold during it, or the end of a hold, does not start it; stop --all keeps it stopped by name', () => {
    expect(transition(byName('stop'), { tag: 'hold', why: 'group' }, SPAWNED)).toBeNull();
    expect(transition(kept, { tag: 'hold', why: 'requires' }, SPAWNED)).toBeNull();
    expect(transition(kept, { tag: 'release', restart: true, keeperParked: false }, SPAWNED)).toBeNull();
    expect(transition(kept, { tag: 'hold-instead', why: 'requires', keeperless: true }, SPAWNED)).toBeNull();
    expect(go(byName('stop'), { tag: 'stop' }).next).toEqual(byName('stop'));
  });

  it('asked twice: nothing more (no second event)', () => {
    expect(transition(kept, STOP, SPAWNED)).toBeNull();
    expect(transition(byName('stop'), STOP, SPAWNED)).toBeNull();
  });

  it('stops a pid entity too (it has no command, but a process)', () => {
    expect(go(running, STOP, PID).next).toMatchObject({ tag: 'stopping', request: 'stop' });
  });
});

describe('ham start NAME', () => {
  it('stopped by name: a new keeper starts it, not counted as a restart', () => {
    const o = go(kept, START);
    expect(o.next).toEqual({ tag: 'starting', restart: false, via: null });
    expect(kinds(o)).toEqual(['cancel-restart', 'spawn-keeper']);
    expect(said(o)).toEqual(['requested start']);
  });

  it('dead with its keeper parked: through that keeper', () => {
    const o = go(dead(5), START);
    expect(o.next).toEqual({ tag: 'starting', restart: false, via: 5 });
    expect(kinds(o)).toEqual(['cancel-restart', 'restart-keeper']);
  });

  it('while it is being stopped by name: started again once it exited', () => {
    const o = go(byName('stop'), START);
    expect(o.next).toEqual(byName('restart'));
  });

  it('running, starting, held or failed: nothing (failed needs ham reset; held comes back by itself)', () => {
    for (const l of [running, starting(), held('group'), failed(1), stopping('group')]) expect(transition(l, START, SPAWNED), l.tag).toBeNull();
  });

  it('without a command: nothing to start', () => {
    expect(transition(kept, START, PID)).toBeNull();
  });
});

describe('ham restart NAME', () => {
  it('running: stopped by its stop policy, then (at its exit) started through the keeper: no death, no restart counted', () => {
    const o = go(running, RESTART);
    expect(o.next).toMatchObject({ tag: 'stopping', request: 'restart' });
    expect(said(o)).toEqual(['requested restart']);
    const x = go(byName('restart'), { tag: 'X', seq: 8, exit: EXIT });
    expect(x.next).toEqual({ tag: 'starting', restart: false, via: 8 });
    expect(kinds(x)).toEqual(['forget-health', 'untrack-heartbeats', 'restart-keeper']);
    expect(x.occurrences).toEqual([]);
    expect(x.marks).not.toContain('death');
    expect(x.marks).not.toContain('restarts');
  });

  it('its keeper gone with the process: a new keeper starts it', () => {
    const o = go(byName('restart'), { tag: 'keeper-gone', orphan: false, dismissed: false, now: 1 });
    expect(o.next).toEqual({ tag: 'starting', restart: false, via: null });
    expect(kinds(o)).toContain('spawn-keeper');
    expect(kinds(o)).toContain('untrack-heartbeats'); // the old instance's watchdog is not the new one's
  });

  it('stop --all or a hold during it: the restart gives way (stopped, or held)', () => {
    expect(go(byName('restart'), { tag: 'stop' }).next).toEqual(stopping());
    expect(go(byName('restart'), { tag: 'hold', why: 'group' }).next).toEqual(stopping('group'));
  });

  it("during a hold's stop: nothing (it would start with its requirement down; held, it comes back by itself); a stop by name still keeps it", () => {
    for (const why of ['requires', 'group'] as const) {
      expect(transition(stopping(why), RESTART, SPAWNED), why).toBeNull();
      expect(go(stopping(why), STOP).next, why).toEqual(byName('stop'));
    }
    expect(transition(held('requires'), RESTART, SPAWNED)).toBeNull();
  });

  it('where nothing runs (dead, stopped): started now', () => {
    expect(go(dead(3), RESTART).next).toEqual({ tag: 'starting', restart: false, via: 3 });
    expect(go(kept, RESTART).next).toEqual({ tag: 'starting', restart: false, via: null });
    expect(go(idle, RESTART).next).toEqual({ tag: 'starting', restart: false, via: null });
  });
});

describe('what carries a stop by name', () => {
  it('a new keeper adopting or starting it keeps the request', () => {
    expect(adoptedLife(byName('stop', false))).toEqual(byName('stop'));
    expect(adoptedLife(kept)).toEqual(byName('stop'));
    expect(spawningLife(byName('restart'), false)).toEqual(byName('restart', false));
  });

  it('ham start of the pair does not undo it', () => {
    expect(unstoppedLife(kept)).toEqual(kept);
    expect(unstoppedLife(byName('stop'))).toEqual(byName('stop'));
    expect(unstoppedLife(byName('restart'))).toEqual(running);
  });

  it('settles as kept only when asked by name to stop', () => {
    expect(settledLife(byName('stop') as Extract<Life, { tag: 'stopping' }>, 2)).toEqual({ tag: 'stopped', parked: 2, kept: true });
    expect(settledLife(stopping() as Extract<Life, { tag: 'stopping' }>, 2)).toEqual(stopped(2));
  });

  it('property: from a life kept stopped, only ham start / restart NAME (or a process attaching itself) brings a process', () => {
    const events: LifeEvent[] = [
      { tag: 'hold', why: 'group' },
      { tag: 'hold-instead', why: 'requires', keeperless: false },
      { tag: 'release', restart: true, keeperParked: true },
      { tag: 'reset', now: 1 },
      { tag: 'stop' },
      { tag: 'restart-due', requirementsUp: true, groupBusy: false, takesAlong: false, keeperParked: true },
      { tag: 'restart-decided', at: 1, over: false },
      { tag: 'X', seq: 3, exit: EXIT },
      { tag: 'keeper-gone', orphan: false, dismissed: false, now: 1 },
      STOP,
    ];
    fc.assert(
      fc.property(fc.constantFrom(kept, byName('stop'), byName('stop', false)), fc.constantFrom(...events), (l, ev) => {
        const o = transition(l, ev, SPAWNED);
        const next = o ? o.next : l;
        expect(next !== 'removed' && keptStopped(next), `${l.tag} × ${ev.tag}`).toBe(true);
        expect(o?.occurrences.filter((x) => x.type === 'death' || x.type === 'abnormal-death') ?? []).toEqual([]);
      }),
    );
  });

  it('property: whatever ends a started process (stopped, held, restarted by name, dead) stops watching its heartbeats', () => {
    const ends: LifeEvent[] = [
      { tag: 'X', seq: 3, exit: EXIT },
      { tag: 'keeper-gone', orphan: false, dismissed: false, now: 1 },
    ];
    fc.assert(
      fc.property(anyLife, fc.constantFrom(...ends), (l, ev) => {
        const runs = l.tag === 'running' || (l.tag === 'stopping' && l.started);
        if (!runs) return;
        const o = transition(l, ev, SPAWNED);
        if (!o || o.next === 'removed' || o.next.tag === 'running' || o.next.tag === 'stopping') return; // it still runs
        expect(kinds(o), `${JSON.stringify(l)} × ${ev.tag}`).toContain('untrack-heartbeats');
      }),
    );
  });

  it('property: ham stop NAME, wherever it comes, never fires a death and leads to a stop', () => {
    fc.assert(
      fc.property(anyLife, (l) => {
        const o = transition(l, STOP, SPAWNED);
        if (!o) return;
        expect(o.occurrences.map((x) => x.type)).toEqual(['requested']);
        expect(o.next !== 'removed' && (o.next.tag === 'stopping' || o.next.tag === 'stopped')).toBe(true);
      }),
    );
  });
});
