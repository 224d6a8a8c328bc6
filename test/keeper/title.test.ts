// The C keeper's title: `ham keeper NAME HOME` in ps and `pgrep -f`, not its entity's command line (a
// `pgrep -f SERVICE` found the keeper too, and the kill meant for the service killed the keeper).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, keepersWith, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { keeperArgv, keeperDirOf } from '../../src/proc/keepers.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const raw = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+/g, ' ').trim();
const pgrep = (pattern: string): number[] => {
  try {
    return execFileSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).trim().split('\n').map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
};

describe('keeper titles', () => {
  it('the keeper shows `ham keeper NAME HOME`; pgrep -f of the command finds the entity only; the entity inherits nothing of it', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const marker = `${t.home}/svc marker`;
    await hamJson(t.home, ['attach', 'svc', '--restart', '--', ...sleeper(marker)]);
    const s = await waitStatus(
      t.home,
      'svc running',
      (x) => entity(x, 'svc').state === 'running' && entity(x, 'svc').pid !== null && entity(x, 'svc').keeperPid !== null,
    );
    const { pid, keeperPid } = entity(s, 'svc');
    await waitFor('its title', () => raw(keeperPid!) === `ham keeper svc ${t.home}`);
    expect(pgrep(marker)).toEqual([pid]);
    expect(pgrep(`ham keeper svc ${t.home}`)).toEqual([keeperPid]); // the home tells it from other homes' svc keepers
    // What it was started with stays readable by its owner (the tests' and the HAM's way to it).
    const dir = keeperDirOf(keeperPid!)!;
    expect(dir).toMatch(new RegExp(`^${t.home}/run/keepers/\\d+-1$`));
    expect(keeperArgv(keeperPid!).slice(-4)).toEqual(sleeper(marker));
    expect(keepersWith(marker)).toEqual([keeperPid]);
    expect(readFileSync(`/proc/${pid}/environ`, 'latin1')).not.toContain('HAM_KEEPER_DIR=');

    // The kill a user meant for the service reaches the service: it dies and is restarted by its keeper's HAM.
    for (const p of pgrep(marker)) process.kill(p, 'SIGKILL');
    const again = await waitStatus(
      t.home,
      'svc restarted',
      (x) => entity(x, 'svc').restarts === 1 && entity(x, 'svc').state === 'running' && entity(x, 'svc').pid !== pid,
    );
    expect(entity(again, 'svc').keeperPid).toBe(keeperPid);
    expect(raw(keeperPid!)).toBe(`ham keeper svc ${t.home}`);

    // A new HAM finds the titled keeper by its folder (reconcile): the same keeper and process, no second one.
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'the new HAM',
      (x) => x.ham.epoch > before.ham.epoch && x.guardian.pid !== null && entity(x, 'svc').state === 'running',
    );
    expect(entity(after, 'svc')).toMatchObject({ pid: entity(again, 'svc').pid, keeperPid });
    expect(procsWith(marker)).toEqual([entity(again, 'svc').pid]);
    expect(keepersWith(marker)).toEqual([keeperPid]);
  });
});
