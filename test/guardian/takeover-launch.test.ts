// A keeper start a dead HAM's launcher had forked but not yet exec'd: the
// launcher dies with its HAM, its forked child does not, and it goes on to
// make the keeper folder's marker and exec the keeper late, after the new
// HAM looked for it by its folder and found nothing. The new HAM must start
// that same keeper (its marker then makes the late one a no-op), not another
// under a new serial beside it (two processes of one entity).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isKeeperArgv } from '../../src/paths.js';
import { isStopped } from '../../src/proc/procfs.js';
import { keeperArgv } from '../../src/proc/keepers.js';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, keepersWith, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe('the HAM dies while its launcher starts a keeper', () => {
  it('the late exec of that start finds its marker taken: one keeper, one process', async () => {
    const points = join(t.home, 'failpoints');
    await hamJson(t.home, ['start', '--hang-ms', '1000'], { HAM_FAILPOINTS: 'spawn-keeper:web', HAM_FAILPOINT_DIR: points });
    const marker = `${t.home}/web`;
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(marker)]);
    const before = await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running' && keepersWith(marker).length === 1);
    const keeper = keepersWith(marker)[0]!;
    // The keeper's command line names its folder (…/ID-1) and tag (ID-1); the restart's keeper is ID-2.
    const argv = keeperArgv(keeper); // as it was started (its command line is its title)
    const dir1 = argv.find((a) => /\/run\/keepers\/\d+-1$/.test(a))!;
    const tag1 = dir1.slice(dir1.lastIndexOf('/') + 1);
    const tag2 = tag1.replace(/-1$/, '-2');
    const late = argv.map((a) => (a === dir1 ? dir1.replace(/-1$/, '-2') : a === tag1 ? tag2 : a));
    const dir2 = dir1.replace(/-1$/, '-2');
    // A restart through a new keeper (serial 2): committed, then the HAM stops at the failpoint before launching it.
    process.kill(keeper, 'SIGSTOP');
    process.kill(entity(before, 'web').pid!, 'SIGKILL');
    await waitFor('the process gone', () => procsWith(marker).length === 0);
    process.kill(keeper, 'SIGKILL');
    await waitFor('the HAM to reach the failpoint', () => readFileSync(join(points, 'spawn-keeper:web'), 'utf8') === '');
    const after = await waitStatus(
      t.home,
      'web restarted by the new HAM',
      (s) => s.ham.epoch > before.ham.epoch && entity(s, 'web').state === 'running' && entity(s, 'web').pid !== null,
      30_000,
    );
    // What the dead HAM's launcher child does next (launcher.c, child()): the folder, the marker (O_EXCL), the exec.
    const child = spawn('sh', ['-c', 'mkdir -p "$1" && set -C && : > "$1/spawned" && shift && exec "$@"', 'sh', dir2, ...late], {
      stdio: 'ignore',
      detached: true,
    });
    const ended = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let code: number | null | undefined;
    void ended.then((c) => (code = c));
    await waitFor('the late start to find its marker taken and end', () => (code !== undefined ? true : undefined), 15_000);
    expect(code).not.toBe(0);
    expect(procsWith(marker)).toEqual([entity(after, 'web').pid]);
    expect(keepersWith(marker)).toHaveLength(1);
  });
});

/**
 * The launcher's child of `web` (command `sleep ARG`) held by the launch-exec failpoint (launcher.c: hold):
 * its marker made, its keeper not exec'd. Then the HAM SIGKILLed, and a new one has reconciled `web`.
 */
async function heldThroughTakeover(home: string): Promise<{ arg: string; held: number; epoch: number }> {
  const arg = String(8_000_000 + Math.floor(Math.random() * 1_000_000));
  const points = join(home, 'failpoints');
  await hamJson(home, ['start', ...CALM], { HAM_FAILPOINTS: `launch-exec:${arg}`, HAM_FAILPOINT_DIR: points });
  const before = await status(home);
  await hamJson(home, ['attach', 'web', '--restart', '--', 'sleep', arg]);
  const held = await waitFor('the launched child held before its exec', () => {
    const pid = Number(readFileSync(join(points, `launch-exec:${arg}`), 'utf8'));
    return isStopped(pid) ? pid : undefined;
  });
  process.kill(before.ham.pid!, 'SIGKILL');
  await waitStatus(home, 'a new HAM', (s) => s.ham.epoch > before.ham.epoch && s.ham.pid !== before.ham.pid, 30_000);
  return { arg, held, epoch: before.ham.epoch };
}

describe('the HAM dies while its launcher child is between the marker and the exec', () => {
  it("the new HAM takes the marker's pid for the keeper: when it execs, one keeper and one process", async () => {
    const { arg, held } = await heldThroughTakeover(t.home);
    // Reconciled: the held child is web's keeper (an exec keeps its pid), not a second keeper started beside it.
    const s = await waitStatus(t.home, 'web reconciled', (x) => entity(x, 'web').keeperPid !== null, 30_000);
    expect(entity(s, 'web').keeperPid).toBe(held);
    expect(procsWith(arg)).toEqual([]);
    process.kill(held, 'SIGCONT');
    const up = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running' && entity(x, 'web').pid !== null, 30_000);
    expect(isKeeperArgv(readFileSync(`/proc/${held}/cmdline`, 'utf8').split('\0'))).toBe(true);
    expect(procsWith(arg)).toEqual([entity(up, 'web').pid]);
    expect(keepersWith(arg)).toEqual([held]);
    expect([entity(up, 'web').keeperPid, entity(up, 'web').restarts]).toEqual([held, 0]);
  });

  it('the held child killed before its exec: the new HAM sees it gone, a start that failed (as without a takeover)', async () => {
    const { arg, held } = await heldThroughTakeover(t.home);
    await waitStatus(t.home, 'web reconciled', (x) => entity(x, 'web').keeperPid === held, 30_000);
    process.kill(held, 'SIGKILL');
    const down = await waitStatus(t.home, 'the start failed', (x) => entity(x, 'web').keeperPid === null && entity(x, 'web').state !== 'starting', 30_000);
    expect(entity(down, 'web').state).toBe('dead');
    expect(entity(down, 'web').lastError).toContain('keeper died before the command started');
    expect(procsWith(arg)).toEqual([]);
    expect(keepersWith(arg)).toEqual([]);
  });
});
