// `ham stop --all` when no HAM runs: the store's entities are stopped all the same, by their stop policy.
import { execFile } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAEMON_MAIN } from '../../src/paths.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import type { StatusView } from '../../src/protocol/views.js';
import { applyConfig, CALM, daemons, ham, hamJson, procsWith, sleeper, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const entity = (s: StatusView, n: string) => s.entities.find((e) => e.name === n)!;

/** Both daemons SIGKILLed at once (stopped first, so neither sees the other die and takes over). */
async function killPair(home: string): Promise<void> {
  const pids = daemons(home);
  expect(pids).toHaveLength(2);
  for (const p of pids) process.kill(p, 'SIGSTOP');
  for (const p of pids) process.kill(p, 'SIGKILL');
  await waitFor('no daemon left', () => daemons(home).length === 0);
}

describe('ham stop --all with no HAM', () => {
  it('stops every entity by its stop policy (SIGKILL after the timeout for one that ignores SIGTERM); the next start starts them again, no deaths counted', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const plain = `${t.home}/plain`;
    const stubborn = `${t.home}/stubborn`;
    await applyConfig(t.home, {
      entities: {
        plain: { command: sleeper(plain) },
        // A standing order would restart it at its death without a HAM: the offline stop revokes it first.
        stubborn: { command: ['perl', '-e', '$SIG{TERM} = "IGNORE"; sleep 100000', stubborn], restart: {}, stop: { timeoutMs: 500 } },
      },
    });
    const up = await waitStatus(t.home, 'both running', (s) =>
      ['plain', 'stubborn'].every((n) => entity(s, n)?.state === 'running' && entity(s, n).pid !== null),
    );
    const ids = ['plain', 'stubborn'].map((n) => procId(entity(up, n).pid!)!);
    await killPair(t.home);
    expect(ids.every(isAlive)).toBe(true);

    const r = await hamJson<{ stopped: boolean; offline: boolean; entities: { name: string; pid: number; how: string }[] }>(t.home, ['stop', '--all']);
    expect(r.stopped).toBe(true);
    expect(r.offline).toBe(true);
    expect(r.entities.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'plain', pid: ids[0]!.pid, how: 'signal' },
      { name: 'stubborn', pid: ids[1]!.pid, how: 'killed' },
    ]);
    expect(ids.some(isAlive)).toBe(false);
    // No keeper restarted them meanwhile (its order revoked), and no HAM came up.
    await waitFor('their keepers to settle', () => procsWith(plain).length === 0 && procsWith(stubborn).length === 0);
    expect(daemons(t.home)).toEqual([]);

    await hamJson(t.home, ['start', ...CALM]);
    const again = await waitStatus(t.home, 'both started again', (s) =>
      ['plain', 'stubborn'].every((n) => entity(s, n)?.state === 'running' && entity(s, n).pid !== null && !ids.some((i) => i.pid === entity(s, n).pid)),
    );
    for (const n of ['plain', 'stubborn']) expect(entity(again, n).deaths).toBe(0);
    expect((await ham(t.home, ['stop', '--all'])).code).toBe(0);
  });

  it('says what it did in text, and "not running" on a home with nothing', async () => {
    const empty = await ham(`${t.home}/none`, ['stop', '--all']);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/not running on .*\/none \(no store: nothing to stop\)/);
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'w', '--', ...sleeper(`${t.home}/w`)]);
    await waitStatus(t.home, 'w running', (s) => entity(s, 'w')?.state === 'running' && entity(s, 'w').pid !== null);
    await killPair(t.home);
    const r = await ham(t.home, ['stop', '--all']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^no HAM ran on .*: stopped 1 entity the store knows$/m);
    await waitFor('w gone', () => procsWith(`${t.home}/w`).length === 0);
  });

  it('refuses while a HAM serves the home (the stop is its to do)', async () => {
    const s = await hamJson<{ ham: { pid: number } }>(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'w', '--', ...sleeper(`${t.home}/w`)]);
    const w = await waitStatus(t.home, 'w running', (x) => entity(x, 'w')?.state === 'running' && entity(x, 'w').pid !== null);
    const out = await new Promise<string>((resolve) =>
      execFile(process.execPath, [DAEMON_MAIN, '--home', t.home, '--role', 'stop-all'], (_e, stdout) => resolve(stdout)),
    );
    expect(JSON.parse(out).error).toMatchObject({ code: 'already-running' });
    expect(isAlive(procId(entity(w, 'w').pid!))).toBe(true);
    expect(daemons(t.home)).toContain(s.ham.pid);
  });
});
