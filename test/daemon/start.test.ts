// `ham start` (issue 12, a faster start): the HAM spawns its Guardian right after claiming the
// role, before it has loaded the HAM's modules or serves, so a HAM that dies there is taken over
// by that Guardian and the start still returns a whole pair. Both daemons run with the malloc
// settings that keep them small; what they start does not inherit them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAEMON_MALLOC_ENV } from '../../src/paths.js';
import { findProcesses, startTime } from '../../src/proc/procfs.js';
import { daemons, ham, hamJson, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let points: string;
beforeEach(() => {
  t = tempHome();
  points = mkdtempSync(join(tmpdir(), 'ham-fp-'));
});
afterEach((ctx) => {
  t.cleanup(ctx);
  rmSync(points, { recursive: true, force: true });
});

/** The home's daemon of a role, once there is exactly one. */
const one = (home: string, role: string): number | undefined => {
  const pids = daemons(home).filter((pid) => findProcesses((a) => a.includes(role)).includes(pid));
  return pids.length === 1 ? pids[0] : undefined;
};

describe('ham start', () => {
  it('spawns the Guardian before the HAM serves; a HAM killed there is taken over and the start returns the whole pair', async () => {
    const env = { HAM_FAILPOINTS: 'ham-claimed', HAM_FAILPOINT_DIR: points };
    const start = ham(t.home, ['--json', 'start', '--hang-ms', '3000'], env);
    // The HAM spins at the failpoint: claimed, its Guardian spawned, nothing served yet.
    await waitFor('the HAM at its failpoint', () => existsSync(join(points, 'ham-claimed')));
    const first = await waitFor('the HAM', () => one(t.home, 'ham'));
    const guardian = await waitFor('its Guardian, spawned before the HAM serves', () => one(t.home, 'guardian'));
    expect(existsSync(join(t.home, 'ham.sock'))).toBe(false);
    process.kill(first, 'SIGKILL');
    const r = await start;
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { already: boolean; ham: { pid: number; epoch: number }; guardian: { pid: number } };
    expect(out.already).toBe(false);
    expect(out.ham.pid).toBe(guardian);
    expect(out.ham.epoch).toBe(2);
    expect(out.guardian.pid).not.toBe(guardian);
    expect(out.guardian.pid).not.toBe(first);
  });

  it('both daemons have the malloc settings in their environment, a Guardian spawned after a takeover too; an entity does not', async () => {
    const environ = (pid: number): Record<string, string> =>
      Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
    const malloc = (pid: number): Record<string, string> => Object.fromEntries(Object.keys(DAEMON_MALLOC_ENV).map((k) => [k, environ(pid)[k] ?? '(unset)']));
    // Not inherited from the test's own environment: the CLI adds them (a value already set would be kept).
    for (const k of Object.keys(DAEMON_MALLOC_ENV)) expect(process.env[k]).toBeUndefined();
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const marker = `slim-env-${process.pid}`;
    await hamJson(t.home, ['attach', 'e', '--', ...sleeper(marker)]);
    const before = await status(t.home);
    for (const pid of [before.ham.pid!, before.guardian.pid!]) expect(malloc(pid)).toEqual(DAEMON_MALLOC_ENV);
    const entity = await waitFor('the entity', () => (procsWith(marker).length === 1 ? procsWith(marker)[0] : undefined));
    for (const k of Object.keys(DAEMON_MALLOC_ENV)) expect(environ(entity)[k]).toBeUndefined();
    process.kill(before.ham.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'a new whole pair',
      (s) => s.ham.epoch > before.ham.epoch && s.guardian.pid !== null && s.guardian.pid !== before.guardian.pid && startTime(s.guardian.pid) !== undefined,
    );
    expect(malloc(after.guardian.pid!)).toEqual(DAEMON_MALLOC_ENV);
  });
});
