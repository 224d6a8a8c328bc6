// Readiness without a process: the lifecycle table's ready / not-ready steps
// and what a readiness block in `apply` becomes (or why it is refused).
import { describe, expect, it } from 'vitest';
import { planApply } from '../../src/ham/apply-plan.js';
import { adoptedLife, readyOf, viewState, type Life } from '../../src/ham/lifecycle.js';
import type { LifeContext, LifeEvent } from '../../src/ham/lifecycle-events.js';
import { transition, type Outcome } from '../../src/ham/lifecycle-table.js';
import { parseReadiness } from '../../src/ham/readiness-schema.js';
import { dead, failed, held, idle, running, SPAWNED, starting, stopped, stopping } from '../helpers/life.js';
import { emptyWorld } from '../helpers/entities.js';

const PROBED: LifeContext = { ...SPAWNED, probed: true };
const unready: Life = { tag: 'running', unready: true };
const OTHERS: Life[] = [
  idle,
  starting(),
  starting(true, 3),
  dead(2),
  dead(2, { at: 5 }),
  stopping(),
  stopping('group', false),
  stopped(1),
  held('requires'),
  failed(),
];

function go(l: Life, ev: LifeEvent, ctx: LifeContext = PROBED): Outcome {
  const o = transition(l, ev, ctx);
  if (!o) throw new Error(`${l.tag} × ${ev.tag} was ignored`);
  return o;
}
const kinds = (o: Outcome): string[] => o.effects.map((e) => e.kind);

describe('readiness in the lifecycle table', () => {
  it('an exec with a probe runs unready (shown as starting) and probing; without one it is ready at once', () => {
    const o = go(starting(), { tag: 'S' });
    expect(o.next).toEqual(unready);
    expect(kinds(o)).toEqual(['probe-readiness', 'settled']);
    expect(viewState(unready)).toBe('starting');
    expect(readyOf(unready)).toBe(false);
    const plain = go(starting(), { tag: 'S' }, SPAWNED);
    expect(plain.next).toEqual(running);
    expect(kinds(plain)).toEqual(['settled']);
    expect(readyOf(running)).toBe(true);
  });

  it('ready: running, the ready occurrence fired, the coordinator told; a second answer changes nothing', () => {
    const o = go(unready, { tag: 'ready' });
    expect(o).toMatchObject({ next: running, occurrences: [{ type: 'ready' }], marks: ['ready'] });
    expect(kinds(o)).toEqual(['settled']);
    expect(transition(running, { tag: 'ready' }, PROBED)).toBeNull();
  });

  it('not ready in time: its stop signal with the reason marked, then SIGKILL; the exit that follows is a death', () => {
    const first = go(unready, { tag: 'not-ready', kill: false });
    expect(first).toMatchObject({ next: unready, marks: ['not-ready'], effects: [{ kind: 'signal', signal: 'stop' }] });
    const kill = go(unready, { tag: 'not-ready', kill: true });
    expect(kill).toMatchObject({ next: unready, marks: [], effects: [{ kind: 'signal', signal: 'SIGKILL' }] });
    const x = go(unready, { tag: 'X', seq: 4, exit: { code: null, signal: 'SIGTERM', core: false } });
    expect(x.next).toEqual({ tag: 'dead', parked: 4, restart: 'none' });
    expect(x.occurrences).toEqual([{ type: 'death', decidesRestart: true }]);
  });

  it('ready and not-ready are ignored in every other state (a late answer, a stop under way)', () => {
    for (const l of OTHERS) {
      expect(transition(l, { tag: 'ready' }, PROBED), l.tag).toBeNull();
      expect(transition(l, { tag: 'not-ready', kill: true }, PROBED), l.tag).toBeNull();
    }
    expect(transition(running, { tag: 'not-ready', kill: false }, PROBED)).toBeNull();
  });

  it('a keeper lost after the fork: the adopted process is unready and probed; a stop of an unready one stops it', () => {
    const o = go(starting(), { tag: 'keeper-gone', orphan: true, dismissed: false, now: 1 });
    expect(o.next).toEqual(unready);
    expect(kinds(o)).toContain('probe-readiness');
    expect(go(unready, { tag: 'stop' }).next).toMatchObject({ tag: 'stopping', started: true });
    // The new keeper's adoption (spawning.ts) keeps it unready; a first adoption (attach --pid) is ready.
    expect(adoptedLife(unready)).toEqual(unready);
    expect(adoptedLife(starting())).toEqual(running);
  });
});

describe('the readiness block', () => {
  const at = ['entities', 'web', 'readiness'];
  it('tcp as a port or HOST:PORT, http, command; defaults filled', () => {
    expect(parseReadiness({ tcp: 8080 }, at).spec).toEqual({
      probe: { kind: 'tcp', host: '127.0.0.1', port: 8080 },
      timeoutMs: 30_000,
      intervalMs: 250,
      attemptMs: 2000,
    });
    expect(parseReadiness({ tcp: 'db.local:5432' }, at).spec?.probe).toEqual({ kind: 'tcp', host: 'db.local', port: 5432 });
    expect(parseReadiness({ tcp: '[::1]:80' }, at).spec?.probe).toEqual({ kind: 'tcp', host: '::1', port: 80 });
    expect(parseReadiness({ http: 'http://127.0.0.1:9/health', timeoutMs: 500 }, at).spec).toMatchObject({
      probe: { kind: 'http', url: 'http://127.0.0.1:9/health' },
      timeoutMs: 500,
    });
    expect(parseReadiness({ command: ['pg_isready', ''], intervalMs: 1000 }, at).spec).toMatchObject({
      probe: { kind: 'command', argv: ['pg_isready', ''] },
      intervalMs: 1000,
    });
  });

  it('notify (with its watchdog) and fd: the keeper answers them', () => {
    expect(parseReadiness({ notify: true, timeoutMs: 5000, watchdogMs: 1000 }, at).spec).toMatchObject({
      probe: { kind: 'notify', watchdogMs: 1000 },
      timeoutMs: 5000,
    });
    expect(parseReadiness({ notify: true }, at).spec!.probe).toEqual({ kind: 'notify', watchdogMs: null });
    expect(parseReadiness({ fd: 3 }, at).spec!.probe).toEqual({ kind: 'fd', fd: 3 });
  });

  it('refused with its path: two probes, none, a bad port, a URL that is not http, an unknown field, bad notify and fd', () => {
    const issues = (raw: unknown) => parseReadiness(raw, at).issues;
    expect(issues({ tcp: 1, http: 'http://x/' })).toEqual([
      { path: 'entities.web.readiness', expected: 'exactly one of tcp, http, command, notify or fd', got: 'tcp and http' },
    ]);
    expect(issues({ notify: true, fd: 3 })[0]).toMatchObject({ path: 'entities.web.readiness', got: 'notify and fd' });
    expect(issues({ notify: false })[0]!.path).toBe('entities.web.readiness.notify');
    expect(issues({ fd: 2 })[0]!.path).toBe('entities.web.readiness.fd');
    expect(issues({ fd: 3.5 })[0]!.path).toBe('entities.web.readiness.fd');
    expect(issues({ notify: true, watchdogMs: 0 })[0]!.path).toBe('entities.web.readiness.watchdogMs');
    expect(issues({ fd: 3, watchdogMs: 100 })).toEqual([
      { path: 'entities.web.readiness.watchdogMs', expected: 'expected watchdogMs only with notify (WATCHDOG=1 beats)', got: 'fd' },
    ]);
    expect(issues({ timeoutMs: 5 })[0]).toMatchObject({ path: 'entities.web.readiness', got: 'none of them' });
    expect(issues({ tcp: 70000 })[0]!.path).toBe('entities.web.readiness.tcp');
    expect(issues({ tcp: 'host:99999' })).toEqual([
      { path: 'entities.web.readiness.tcp', expected: 'expected a port from 1 to 65535, or "HOST:PORT"', got: '"host:99999"' },
    ]);
    expect(issues({ http: 'ftp://x/' })[0]).toMatchObject({ path: 'entities.web.readiness.http', expected: 'expected an http:// or https:// URL' });
    expect(issues({ tcp: 1, timeoutMS: 3 })).toEqual([{ path: 'entities.web.readiness.timeoutMS', expected: 'unexpected field (did you mean timeoutMs?)' }]);
    expect(issues({ tcp: 1, timeoutMs: 0 })[0]!.path).toBe('entities.web.readiness.timeoutMs');
  });

  const world = emptyWorld({ pidRunning: () => true });

  it('in apply: kept on the entity; refused on one without a command, with every other problem of the file', async () => {
    const ok = await planApply({ entities: { web: { command: ['web'], readiness: { tcp: 80 } } } }, world);
    expect(ok.ok && ok.plan.creates[0]!.readiness).toMatchObject({ probe: { kind: 'tcp', port: 80 } });
    const bad = await planApply({ entities: { p: { placeholder: true, readiness: { tcp: 80 } }, q: { command: ['q'], readiness: { tcp: 'x' } } } }, world);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.issues.map((i) => i.path)).toEqual(['entities.p.readiness', 'entities.q.readiness.tcp']);
  });

  it('in apply: notify refused in a home too long for its socket path (there is no abstract-socket fallback)', async () => {
    const file = { entities: { web: { command: ['web'], readiness: { notify: true } } } };
    expect((await planApply(file, world)).ok).toBe(true);
    const long = `/${'h'.repeat(120)}`;
    const bad = await planApply(file, emptyWorld({ pidRunning: () => true, home: long }));
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.issues).toEqual([
      { path: 'entities.web.readiness.notify', expected: expect.stringContaining('for notify readiness'), got: `${long} (121 bytes)` },
    ]);
  });
});
