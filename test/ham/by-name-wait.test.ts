// Requests by name that must say what really happened, on a real pair: `ham
// stop NAME --wait` whose exit is not seen (its keeper SIGSTOPped) is an error
// naming the entity and its state, not "stopped"; `ham restart NAME` during a
// requires-hold's stop is refused (it would start with its requirement down).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { EntityView } from '../../src/protocol/views.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, ham, hamJson, procsWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

/** Ignores SIGTERM (only its stop timeout's SIGKILL ends it); says when armed (MARKER.armed.PID). */
const stubborn = (marker: string): string[] => [
  'perl',
  '-e',
  `$SIG{TERM} = 'IGNORE'; open(my $f, '>', "$ARGV[0].armed.$$") && close $f; sleep 1 while 1`,
  marker,
];
const armed = (marker: string, pid: number): Promise<boolean> => waitFor(`${marker} armed`, () => existsSync(`${marker}.armed.${pid}`));
type Err = { code: string; message: string; entity?: string };
async function refused(args: string[]): Promise<Err> {
  const r = await ham(t.home, ['--json', ...args]);
  expect(r.code, args.join(' ')).toBe(1);
  return JSON.parse(r.stdout).error as Err;
}
async function running(name: string): Promise<EntityView> {
  return entity(await waitStatus(t.home, `${name} running`, (x) => entity(x, name).state === 'running' && entity(x, name).pid !== null), name);
}

it('stop --wait whose exit is not seen by the deadline: an error (exit 1) naming it and its state; stopped once its keeper reports', async () => {
  const m = join(t.home, 'web');
  await applyConfig(t.home, { entities: { web: { command: stubborn(m), stop: { timeoutMs: 300 } } } });
  const e = await running('web');
  await armed(m, e.pid!);
  // Its keeper frozen: the process dies of the SIGKILL, but no one reports its exit.
  process.kill(e.keeperPid!, 'SIGSTOP');
  try {
    const err = await refused(['stop', 'web', '--wait']);
    expect(err).toMatchObject({ code: 'timeout', entity: 'web' });
    expect(err.message).toMatch(/^stop web: expected it stopped by the deadline \(its stop timeout 300 ms, .*\), it is still stopping \(its exit not seen\)/);
  } finally {
    process.kill(e.keeperPid!, 'SIGCONT');
  }
  const s = await waitStatus(t.home, 'web stopped', (x) => entity(x, 'web').state === 'stopped');
  expect(entity(s, 'web')).toMatchObject({ stoppedByName: true, deaths: 0 });
  expect(procsWith(m)).toEqual([]);
  // Stopped now: a waited stop says so (already stopped).
  expect((await ham(t.home, ['stop', 'web', '--wait'])).stdout).toMatch(/^web: already stopped \(stopped\)/);
});

it("restart NAME during a requires-hold's stop: refused in the one shape; it ends held and comes back with its requirement", async () => {
  const m = join(t.home, 'needy');
  await applyConfig(t.home, {
    entities: { db: { command: ['sleep', '1000'] }, needy: { command: stubborn(m), requires: ['db'], stop: { timeoutMs: 60_000 } } },
  });
  const first = await running('needy');
  await armed(m, first.pid!);
  await hamJson(t.home, ['stop', 'db', '--wait']);
  await waitStatus(t.home, 'needy being held', (x) => entity(x, 'needy').held === 'requires');
  const err = await refused(['restart', 'needy']);
  expect(err).toEqual({
    code: 'bad-request',
    entity: 'needy',
    message: expect.stringMatching(/^restart needy: it is being held \(something it requires is down: db\)/),
  });
  // Its stop goes on (SIGTERM ignored): SIGKILL it as its timeout would; held, not restarted.
  process.kill(first.pid!, 'SIGKILL');
  const held = await waitStatus(t.home, 'needy held', (x) => entity(x, 'needy').state === 'stopped' && entity(x, 'needy').held === 'requires');
  expect(entity(held, 'needy').instance).toBe(first.instance);
  expect(procsWith(m)).toEqual([]);
  await hamJson(t.home, ['start', 'db', '--wait']);
  const back = await waitStatus(t.home, 'needy back', (x) => entity(x, 'needy').state === 'running' && entity(x, 'needy').instance > first.instance);
  expect(entity(back, 'needy').held).toBeNull();
});

it('reload --wait with notify readiness: done at READY=1 after RELOADING=1; a reload that never ends is an error once its timeoutMs passed', async () => {
  const m = join(t.home, 'reloaded');
  /** Traps HUP: RELOADING=1, then (if FINISH) a moment, a marker and READY=1. */
  const reloader = (finish: boolean): string[] => [
    'sh',
    '-c',
    `trap 'systemd-notify RELOADING=1; ${finish ? `sleep 0.5; touch ${m}; systemd-notify --ready` : 'true'}' HUP; systemd-notify --ready; while true; do sleep 0.1; done`,
  ];
  await applyConfig(t.home, {
    entities: {
      good: { command: reloader(true), readiness: { notify: true, timeoutMs: 60_000 } },
      stuck: { command: reloader(false), readiness: { notify: true, timeoutMs: 1500 } },
    },
  });
  await waitStatus(t.home, 'both ready', (x) => entity(x, 'good').ready && entity(x, 'stuck').ready);
  const r = await hamJson<{ entities: EntityView[] }>(t.home, ['reload', 'good', '--wait']);
  expect(existsSync(m)).toBe(true); // answered only after its READY=1, which follows the marker
  expect(r.entities[0]).toMatchObject({ name: 'good', state: 'running', ready: true, keeperReady: { reloading: false } });
  const err = await refused(['reload', 'stuck', '--wait']);
  expect(err).toEqual({
    code: 'timeout',
    entity: 'stuck',
    message: 'reload stuck: expected READY=1 after RELOADING=1 within 1500 ms (its readiness timeoutMs), still RELOADING=1',
  });
  expect(entity(await waitStatus(t.home, 'stuck still runs', () => true), 'stuck')).toMatchObject({ state: 'running', keeperReady: { reloading: true } });
});
