// Keepers the HAM's launcher cannot report on, watched by pid instead: its
// child held between the folder's marker and the exec (the launch-exec
// failpoint, launcher.c: hold), or a keeper exec'd and not yet heard of, when
// the launcher is SIGKILLed. Whether such a keeper dies or execs, the HAM
// learns it: nothing stays starting for ever, and nothing starts twice.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/home.js';
import { isKeeperArgv, LAUNCHER_BINARY } from '../../src/paths.js';
import { findProcesses, isStopped } from '../../src/proc/procfs.js';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, keepersWith, procsWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const parentOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
const launcherOf = (hamPid: number): number | undefined =>
  findProcesses((a) => a[0] === LAUNCHER_BINARY).find((p) => {
    try {
      return parentOf(p) === hamPid;
    } catch {
      return false;
    }
  });
const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);

/** `web` (command `sleep ARG`) attached, its launched child held after its marker; its pid, its keeper tag, the HAM's pid. */
async function held(home: string, env: NodeJS.ProcessEnv = {}): Promise<{ arg: string; child: number; tag: string; ham: number }> {
  const arg = String(9_000_000 + Math.floor(Math.random() * 1_000_000));
  const points = join(home, 'failpoints');
  await hamJson(home, ['start', ...CALM], { ...env, HAM_FAILPOINTS: `launch-exec:${arg}`, HAM_FAILPOINT_DIR: points });
  const ham = (await status(home)).ham.pid!;
  await hamJson(home, ['attach', 'web', '--restart', '--', 'sleep', arg]);
  const child = await waitFor('the launched child held before its exec', () => {
    const pid = Number(readFileSync(join(points, `launch-exec:${arg}`), 'utf8'));
    return isStopped(pid) ? pid : undefined;
  });
  // Its folder is the one whose marker names it.
  const keepers = homePaths(home).keepers;
  const tag = readdirSync(keepers).find((d) => readFileSync(join(keepers, d, 'spawned'), 'utf8').startsWith(`${child} `))!;
  return { arg, child, tag, ham };
}

describe('the launcher SIGKILLed while a keeper it started is not yet heard of', () => {
  it("its child held before the exec: the next launcher finds the marker ('d') and the HAM watches that pid; it execs: running once", async () => {
    const { arg, child, ham } = await held(t.home);
    const first = launcherOf(ham)!;
    process.kill(first, 'SIGKILL');
    await waitFor('a new launcher', () => (launcherOf(ham) ?? first) !== first);
    process.kill(child, 'SIGCONT');
    const up = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running' && entity(x, 'web').pid !== null, 30_000);
    expect(procsWith(arg)).toEqual([entity(up, 'web').pid]);
    expect(keepersWith(arg)).toEqual([child]);
    expect(entity(up, 'web').restarts).toBe(0);
  });

  /** The launcher SIGKILLed while its child is held before the exec, then the child killed: the start failed, seen by the pid watch. */
  async function heldThenKilled(env: NodeJS.ProcessEnv = {}): Promise<void> {
    const { arg, child, ham } = await held(t.home, env);
    const first = launcherOf(ham)!;
    process.kill(first, 'SIGKILL');
    await waitFor('a new launcher', () => (launcherOf(ham) ?? first) !== first);
    // The new launcher's request finds the marker: answered 'd' with the held child's pid.
    process.kill(child, 'SIGKILL');
    const down = await waitStatus(t.home, 'the start failed', (x) => entity(x, 'web').state !== 'starting', 30_000);
    expect(entity(down, 'web').state).toBe('dead');
    expect(entity(down, 'web').lastError).toContain('exited before its first record');
    expect(procsWith(arg)).toEqual([]);
  }

  it("its child held before the exec, then killed: the HAM's pid watch sees it gone, the start failed (not starting for ever)", () => heldThenKilled());

  // The first stretch cut to nothing (it is ten minutes): the held child is watched seldom from the start.
  it("its child held past the watch's first stretch, then killed: still seen gone (the watch never gives up)", () =>
    heldThenKilled({ HAM_PID_WATCH_FAST_MS: '0' }));

  it("exec'd and answered, dead before its first record: the orphan watch reports it (the start failed)", async () => {
    const { arg, child, tag, ham } = await held(t.home);
    // Its first record's temp file made a FIFO: the keeper blocks opening it, after its exec and before K.
    const fifo = join(homePaths(t.home).inbox, `.${tag}-1`);
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const launcher = launcherOf(ham)!;
    const fds = (): number => readdirSync(`/proc/${launcher}/fd`).filter((f) => readlinkSync(`/proc/${launcher}/fd/${f}`).startsWith('pipe:')).length;
    const idle = fds() - 1; // the held child's exec pipe closes once the launcher has answered
    process.kill(child, 'SIGCONT');
    await waitFor("the keeper exec'd, blocked before its first record", () => isKeeperArgv(argvOf(child)));
    await waitFor("the launcher's 's' answer", () => fds() === idle);
    process.kill(launcher, 'SIGKILL');
    await waitFor('the HAM to see its launcher die', () => readFileSync(homePaths(t.home).daemonLog, 'utf8').includes('the keeper launcher died'));
    expect(readFileSync(homePaths(t.home).daemonLog, 'utf8')).toContain('started again, 0 requests sent again');
    process.kill(child, 'SIGKILL');
    const down = await waitStatus(t.home, 'the start failed', (x) => entity(x, 'web').state !== 'starting', 30_000);
    expect(entity(down, 'web').state).toBe('dead');
    expect(entity(down, 'web').lastError).toContain('its launcher had died');
    expect(procsWith(arg)).toEqual([]);
  });
});
