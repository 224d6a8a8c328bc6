// Groups (one-for-all, rest-for-one) and dependencies (requires), with real
// processes: who is stopped, in what order things start again, and cycles
// refused at apply time.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keeperProcesses } from '../../src/proc/keepers.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, ham, hamJson, lines, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let starts: string;
beforeEach(async () => {
  t = tempHome();
  starts = join(t.home, 'starts');
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const apply = async (config: object): Promise<void> => void (await applyConfig(t.home, config));

/** Appends "NAME" to the starts file, then sleeps (SIGTERM ends it). */
const svc = (name: string, extra: object = {}): object => ({
  command: ['sh', '-c', `echo ${name} >> ${starts}; exec sleep 1000`],
  conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
  ...extra,
});
/** The starts file once it has as many lines as `expected` (a start is seen before its echo has run). */
async function startsAre(expected: string[]): Promise<void> {
  const got = await waitFor(`${expected.length} starts`, () => {
    const l = lines(starts);
    return l.length >= expected.length ? l : undefined;
  });
  expect(got).toEqual(expected);
}
const allRunning = (names: string[]) => (s: Awaited<ReturnType<typeof status>>) => names.every((n) => entity(s, n).state === 'running');

describe('groups', () => {
  it('one-for-all: one member killed → the others stopped in reverse order, then all started again in order', async () => {
    await apply({
      groups: { backend: { strategy: 'one-for-all' } },
      entities: { a: svc('a', { group: 'backend' }), b: svc('b', { group: 'backend' }), c: svc('c', { group: 'backend' }) },
    });
    const before = await waitStatus(t.home, 'all running', allRunning(['a', 'b', 'c']));
    await startsAre(['a', 'b', 'c']);
    process.kill(entity(before, 'b').pid!, 'SIGKILL');
    const after = await waitStatus(t.home, 'all restarted', (s) => allRunning(['a', 'b', 'c'])(s) && ['a', 'b', 'c'].every((n) => entity(s, n).restarts === 1));
    await startsAre(['a', 'b', 'c', 'a', 'b', 'c']);
    for (const n of ['a', 'c']) {
      expect(entity(after, n).pid).not.toBe(entity(before, n).pid);
      expect(entity(after, n).lastExit).toEqual({ code: null, signal: 'SIGTERM' }); // stopped gracefully
      expect(entity(after, n).deaths).toBe(0); // a stop by its group is not a death
    }
    expect(entity(after, 'b')).toMatchObject({ deaths: 1, lastExit: { signal: 'SIGKILL' }, group: 'backend', held: null });
  });

  it('the HAM SIGKILLed in the middle of a one-for-all restart: the new HAM finishes it, still in order', async () => {
    // c takes a while to stop (it traps SIGTERM for 1.5 s), so the kill lands while the group restart waits for it.
    const slow = {
      command: ['sh', '-c', `trap 'sleep 1.5; exit 0' TERM; echo c >> ${starts}; while :; do sleep 0.1; done`],
      conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
      group: 'g',
      stop: { signal: 'SIGTERM', timeoutMs: 10_000 },
    };
    await apply({ groups: { g: { strategy: 'one-for-all' } }, entities: { a: svc('a', { group: 'g' }), b: svc('b', { group: 'g' }), c: slow } });
    const before = await waitStatus(t.home, 'all running', allRunning(['a', 'b', 'c']));
    await startsAre(['a', 'b', 'c']); // c's trap is set
    process.kill(entity(before, 'b').pid!, 'SIGKILL');
    await waitStatus(t.home, 'c being stopped by its group', (s) => entity(s, 'c').held === 'group');
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(
      t.home,
      'taken over, all running again',
      (s) => s.ham.epoch > before.ham.epoch && allRunning(['a', 'b', 'c'])(s) && ['a', 'b', 'c'].every((n) => entity(s, n).held === null),
    );
    await startsAre(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('rest-for-one: the killed member and those started after it restart; the ones before are untouched', async () => {
    await apply({
      groups: { chain: { strategy: 'rest-for-one' } },
      entities: { a: svc('a', { group: 'chain' }), b: svc('b', { group: 'chain' }), c: svc('c', { group: 'chain' }) },
    });
    const before = await waitStatus(t.home, 'all running', allRunning(['a', 'b', 'c']));
    process.kill(entity(before, 'b').pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'b and c restarted',
      (s) => allRunning(['a', 'b', 'c'])(s) && entity(s, 'c').restarts === 1 && entity(s, 'b').restarts === 1,
    );
    await startsAre(['a', 'b', 'c', 'b', 'c']);
    expect(entity(after, 'a')).toMatchObject({ pid: entity(before, 'a').pid, restarts: 0 });
  });
});

/**
 * api requires db and ignores SIGTERM (a 3 s stop timeout); db is killed and comes back after
 * `dbBackoffMs`: api is being held (its stop committed, its SIGTERM ignored). The status before.
 */
async function holdIgnoringDependant(dbBackoffMs: number) {
  await apply({
    entities: {
      api: {
        command: ['sh', '-c', `trap '' TERM; echo api >> ${starts}; while :; do sleep 0.1; done`],
        requires: ['db'],
        stop: { signal: 'SIGTERM', timeoutMs: 3000 },
      },
      db: svc('db', { restart: { backoff: { initialMs: dbBackoffMs, factor: 1, maxMs: dbBackoffMs, resetAfterMs: 60_000 } } }),
    },
  });
  const before = await waitStatus(t.home, 'both running', allRunning(['api', 'db']));
  await startsAre(['db', 'api']); // api's trap is set
  process.kill(entity(before, 'db').pid!, 'SIGKILL');
  await waitStatus(t.home, 'api being held', (s) => entity(s, 'api').held === 'requires');
  return before;
}

describe('dependencies', () => {
  it('the HAM SIGKILLed while a held dependant ignores its stop signal: the new HAM carries the stop out (SIGKILL of its group after the timeout)', async () => {
    const before = await holdIgnoringDependant(600_000);
    // The hold is committed and its SIGTERM ignored: the HAM dies inside the stop timeout.
    process.kill(before.ham.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'api stopped by the new HAM',
      (s) => s.ham.pid !== before.ham.pid && entity(s, 'api').state === 'stopped' && entity(s, 'api').lastExit?.signal === 'SIGKILL',
      30_000,
    );
    expect(entity(after, 'api')).toMatchObject({ held: 'requires', deaths: 0 }); // a stop, not a death
    expect(entity(after, 'db').state).toBe('dead');
  });

  it('a held dependant whose keeper is killed while it stops stays held: adopted, stopped, and started again once its requirement is back', async () => {
    const before = await holdIgnoringDependant(6000);
    const keeper = keeperProcesses().find((k) => k.argv.some((a) => a.includes('echo api')))!.pid;
    process.kill(keeper, 'SIGKILL'); // its process runs on (it ignores SIGTERM): a new keeper adopts it
    const after = await waitStatus(
      t.home,
      'api back with db',
      (s) => allRunning(['api', 'db'])(s) && entity(s, 'db').restarts === 1 && entity(s, 'api').pid !== entity(before, 'api').pid,
      30_000,
    );
    expect(entity(after, 'api')).toMatchObject({ held: null, deaths: 0 });
    await startsAre(['db', 'api', 'db', 'api']);
  });

  it('a dependant starts after its requirement runs, is stopped while it is down, and starts again once it is back', async () => {
    await apply({
      entities: {
        api: svc('api', { requires: ['db'] }),
        db: svc('db', { restart: { backoff: { initialMs: 1500, factor: 1, maxMs: 1500, resetAfterMs: 60_000 } } }),
      },
    });
    const before = await waitStatus(t.home, 'both running', allRunning(['api', 'db']));
    await startsAre(['db', 'api']); // api's trap is set
    await startsAre(['db', 'api']); // declared first, started second
    process.kill(entity(before, 'db').pid!, 'SIGKILL');
    // While db waits for its backoff, api is stopped and held.
    const held = await waitStatus(t.home, 'api held', (s) => entity(s, 'api').held === 'requires' && entity(s, 'api').state === 'stopped');
    expect(entity(held, 'db').state).toBe('dead');
    expect(entity(held, 'api').lastExit).toEqual({ code: null, signal: 'SIGTERM' });
    const after = await waitStatus(t.home, 'both back', (s) => allRunning(['api', 'db'])(s) && entity(s, 'api').held === null);
    await startsAre(['db', 'api', 'db', 'api']);
    expect(entity(after, 'api').deaths).toBe(0);
    expect(entity(after, 'db')).toMatchObject({ deaths: 1, restarts: 1 });
  });

  it('a cycle is refused at apply time, naming it; nothing changes', async () => {
    const file = join(t.home, 'cycle.json');
    writeFileSync(
      file,
      JSON.stringify({
        entities: {
          a: svc('a', { requires: ['b'] }),
          b: svc('b', { requires: ['c'] }),
          c: svc('c', { requires: ['a'] }),
          d: svc('d', { requires: ['nope'] }),
          p: { pid: process.pid, requires: ['a'] },
        },
      }),
    );
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entities.a.requires: a dependency cycle: a → b → c → a');
    expect(r.stderr).toContain('entities.d.requires[0]: expected an entity in this file or attached, got "nope"');
    expect(r.stderr).toContain('entities.p.requires: only an entity with a command can be in a group or require others');
    expect((await status(t.home)).entities).toEqual([]);
    await waitFor('no process started', () => lines(starts).length === 0);
  });
});
