// The rule `ham apply --wait` judges by (src/cli/ready-wait.ts), on events and
// status snapshots as the HAM sends them: ready by event or snapshot, a death
// before that is a failed start, a snapshot waits for the events before it.
import { describe, expect, it } from 'vitest';
import { ReadyWait, SNAPSHOT_PATIENCE_MS } from '../../src/cli/ready-wait.js';
import type { EntityView, EventView } from '../../src/protocol/views.js';

const ev = (seq: number, entity: string, condition: EventView['condition'], more: Partial<EventView> = {}): EventView =>
  ({ seq, time: '2026-12-01T00:00:00.000Z', entity, condition, fired: [], ...more }) as EventView;
const view = (name: string, more: Partial<EntityView>): EntityView =>
  ({ name, kind: 'spawned', pid: 10, state: 'starting', ready: false, readyText: null, lastError: null, held: null, ...more }) as EntityView;

describe('ReadyWait', () => {
  it('a ready event or a ready snapshot decides ready; other entities and older events are ignored', () => {
    const w = new ReadyWait(['db', 'web'], 5);
    w.event(ev(3, 'db', 'death')); // before the apply: not ours to judge
    w.event(ev(6, 'other', 'death'));
    w.event(ev(7, 'db', 'ready', { pid: 11, detail: 'tcp 127.0.0.1:5432 accepted a connection' }));
    expect(w.undecided()).toEqual(['web']);
    w.snapshot('web', view('web', { state: 'running', ready: true, pid: 12 }), 7, 0);
    expect(w.done()).toBe(true);
    expect(w.results()).toEqual([
      { entity: 'db', result: 'ready', pid: 11, seq: 7, readyText: 'tcp 127.0.0.1:5432 accepted a connection' },
      { entity: 'web', result: 'ready', pid: 12, readyText: null },
    ]);
  });

  it('a death before it was ready is a failed start, even when a later snapshot shows it restarted and ready', () => {
    const w = new ReadyWait(['api'], 0);
    // The snapshot was taken after event 2: it waits until event 2 has been judged.
    w.snapshot('api', view('api', { state: 'running', ready: true, pid: 21 }), 2, 0);
    expect(w.done()).toBe(false);
    w.event(ev(1, 'api', 'death', { pid: 20, detail: 'not ready within 1000 ms: tcp 127.0.0.1:1: ECONNREFUSED' }));
    w.event(ev(2, 'api', 'restart'));
    expect(w.results()).toEqual([
      { entity: 'api', result: 'failed', pid: 20, seq: 1, reason: 'its start failed: not ready within 1000 ms: tcp 127.0.0.1:1: ECONNREFUSED' },
    ]);
    // Replayed after a reconnection: no second judgment.
    w.event(ev(2, 'api', 'ready'));
    expect(w.results()[0]!.result).toBe('failed');
  });

  it('an exit without detail says how it ended; failed state, escalation and a vanished entity fail too', () => {
    const w = new ReadyWait(['a', 'b', 'c', 'd'], 0);
    w.event(ev(1, 'a', 'abnormal-death', { pid: 5, exit: { code: null, signal: 'SIGSEGV' } }));
    w.event(ev(2, 'b', 'escalate', { detail: '6 restarts within 10000 ms' }));
    w.snapshot('c', view('c', { state: 'failed', lastError: 'exec failed: ENOENT' }), 2, 0);
    w.snapshot('d', undefined, 2, 0);
    expect(w.results().map((r) => [r.entity, r.result, r.reason])).toEqual([
      ['a', 'failed', 'its start failed: killed by SIGSEGV'],
      ['b', 'failed', 'escalated: 6 restarts within 10000 ms'],
      ['c', 'failed', 'it is failed: exec failed: ENOENT'],
      ['d', 'failed', 'it no longer exists'],
    ]);
  });

  it('not decided at the end: timed out, saying where it was last seen', () => {
    const w = new ReadyWait(['slow', 'held', 'unseen'], 0);
    w.snapshot('slow', view('slow', { state: 'starting' }), 0, 0);
    w.snapshot('held', view('held', { state: 'stopped', held: 'requires' }), 0, 0);
    expect(w.results(3000).map((r) => r.reason)).toEqual([
      'not ready within 3000 ms: starting',
      'not ready within 3000 ms: stopped (held: requires)',
      'not ready within 3000 ms: not seen',
    ]);
  });

  it('a snapshot whose events never come is judged once it has waited long enough', () => {
    const w = new ReadyWait(['x'], 0);
    w.snapshot('x', view('x', { state: 'running', ready: true }), 9, 1000);
    w.snapshot('x', view('x', { state: 'running', ready: true }), 9, 1000 + SNAPSHOT_PATIENCE_MS - 1);
    expect(w.done()).toBe(false);
    w.snapshot('x', view('x', { state: 'running', ready: true }), 9, 1000 + SNAPSHOT_PATIENCE_MS);
    expect(w.done()).toBe(true);
  });
});
