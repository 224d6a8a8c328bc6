// MAINPID= naming a child while the command itself keeps running (a review
// finding): the command's process group stays the entity's. A stop signals the
// group and the main pid (SIGKILL at escalation too); the main pid's death is the
// entity's and ends the rest of the group (as systemd does); a keeper SIGKILLed
// meanwhile is replaced by one that watches the group as well.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => {
  // What a failed test may have left: the command's group and its main pid.
  for (const [f, target] of [
    ['sh', -1],
    ['main', 1],
  ] as const)
    try {
      if (existsSync(at(f))) process.kill(target * pidIn(f), 'SIGKILL');
    } catch {
      /* gone */
    }
  return t.cleanup(ctx);
});

const at = (f: string): string => join(t.home, f);
const pidIn = (f: string): number => Number(readFileSync(at(f), 'utf8').trim().split('\n')[0]);
/** Runs, and is not a zombie. */
const alive = (pid: number): boolean => {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
};

/** The shell (the keeper's child, its group's leader) starts a child, names it MAINPID= and goes on running. */
const forks = (pre = ''): string[] => [
  'sh',
  '-c',
  `${pre}echo $$ >> ${at('sh')}; sleep 1000 & echo $! > ${at('main')}; systemd-notify --ready MAINPID=$!; while :; do sleep 1; done`,
];

/** Apply entity `fork`, wait until it is ready as its MAINPID: [the shell, the main pid]. */
async function started(command: string[], extra: object = {}): Promise<[number, number]> {
  await applyConfig(t.home, { entities: { fork: { command, readiness: { notify: true }, ...extra } } });
  await waitFor('its main pid said', () => existsSync(at('main')) && readFileSync(at('main'), 'utf8').trim());
  const main = pidIn('main');
  await waitStatus(t.home, 'ready as its main pid', (x) => entity(x, 'fork').ready && entity(x, 'fork').pid === main);
  return [pidIn('sh'), main];
}

describe('MAINPID= a child while the command goes on', () => {
  it('`ham stop NAME` ends the command and the main pid: the entity is stopped', async () => {
    const [sh, main] = await started(forks(), { stop: { timeoutMs: 60_000 } });
    await hamJson(t.home, ['stop', 'fork']);
    await waitStatus(t.home, 'stopped', (x) => entity(x, 'fork').state === 'stopped', 60_000);
    await waitFor('both gone', () => !alive(sh) && !alive(main));
  });

  it('both ignore SIGTERM: the escalation SIGKILLs both, the entity is stopped', async () => {
    const [sh, main] = await started(forks("trap '' TERM; "), { stop: { timeoutMs: 300 } });
    await hamJson(t.home, ['stop', 'fork']);
    await waitStatus(t.home, 'stopped', (x) => entity(x, 'fork').state === 'stopped', 60_000);
    await waitFor('both gone', () => !alive(sh) && !alive(main));
  });

  it("the main pid dies: that is the entity's death, and the rest of its group is killed", async () => {
    const [sh, main] = await started(forks());
    process.kill(main, 'SIGKILL');
    const s = await waitStatus(t.home, 'its death', (x) => entity(x, 'fork').deaths === 1);
    expect(entity(s, 'fork')).toMatchObject({ state: 'dead', instance: 1 });
    await waitFor('the command gone too', () => !alive(sh));
  });

  it('its keeper SIGKILLed: the new keeper watches the group too, and the main pid dying ends the command', async () => {
    const [sh, main] = await started(forks());
    const before = entity(await waitStatus(t.home, 'its keeper', (x) => entity(x, 'fork').keeperPid !== null), 'fork');
    process.kill(before.keeperPid!, 'SIGKILL');
    await waitStatus(t.home, 'a new keeper', (x) => ![null, before.keeperPid].includes(entity(x, 'fork').keeperPid));
    expect(alive(sh)).toBe(true); // adopted, not restarted
    process.kill(main, 'SIGKILL');
    await waitStatus(t.home, 'its death', (x) => entity(x, 'fork').deaths === 1, 60_000);
    await waitFor('the first command gone: never two of it', () => !alive(sh));
  });

  it('its keeper SIGKILLed: `ham stop NAME` still ends the command and the main pid', async () => {
    const [sh, main] = await started(forks(), { stop: { timeoutMs: 60_000 } });
    const before = entity(await waitStatus(t.home, 'its keeper', (x) => entity(x, 'fork').keeperPid !== null), 'fork');
    process.kill(before.keeperPid!, 'SIGKILL');
    await waitStatus(t.home, 'a new keeper', (x) => ![null, before.keeperPid].includes(entity(x, 'fork').keeperPid));
    await hamJson(t.home, ['stop', 'fork']);
    await waitStatus(t.home, 'stopped', (x) => entity(x, 'fork').state === 'stopped', 60_000);
    await waitFor('both gone', () => !alive(sh) && !alive(main));
  });
});
