// Keepers are started through the launcher (src/keeper/launcher.c), off the
// HAM's event loop. A launcher SIGKILLed while it starts hundreds is started
// again and sent what it had not answered: every entity ends up running
// exactly once. Without the launcher (HAM_LAUNCHER=off) the HAM forks them itself.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fdLimit } from '../../src/ham/fd-limit.js';
import { homePaths } from '../../src/home.js';
import { CLI_MAIN, LAUNCHER_BINARY } from '../../src/paths.js';
import { childrenOf, cmdline, findProcesses } from '../../src/proc/procfs.js';
import { keeperProcesses } from '../../src/proc/keepers.js';
import type { StatusPage } from '../../src/protocol/views.js';
import { CALM, ham, hamJson, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

const parentOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

/** The launcher the HAM `ham` started (its child), if any. */
function launcherOf(hamPid: number): number | undefined {
  return findProcesses((a) => a[0] === LAUNCHER_BINARY).find((p) => {
    try {
      return parentOf(p) === hamPid;
    } catch {
      return false;
    }
  });
}

/** `n` sleeps, each with its own duration so that its process is known by its command line. */
function config(home: string, n: number, base: number): string {
  const entities = Object.fromEntries(Array.from({ length: n }, (_, i) => [`many${i}`, { command: ['sleep', String(base + i)] }]));
  const file = join(home, 'many.json');
  writeFileSync(file, JSON.stringify({ entities }));
  return file;
}

/** Every entity running, each by one keeper of this home and one process of its command: no more. */
function expectEachOnce(home: string, n: number, base: number): void {
  const keepers = keeperProcesses()
    .filter((k) => k.argv.some((x) => x.startsWith(home)))
    .map((k) => k.pid);
  expect(keepers.length).toBe(n);
  const kids = childrenOf(new Set(keepers)).map((p) => cmdline(p));
  expect(kids.length).toBe(n);
  const seen = new Set(kids.map((a) => a.join(' ')));
  for (let i = 0; i < n; i++) expect(seen.has(`sleep ${base + i}`)).toBe(true);
}

describe('the keeper launcher', () => {
  it('SIGKILLed while starting a few hundred: started again, every entity running exactly once', async () => {
    t = tempHome();
    const n = 300;
    const base = 4_000_000 + Math.floor(Math.random() * 1_000_000);
    const up = await hamJson<{ ham: { pid: number } }>(t.home, ['start', ...CALM]);
    const before = await status(t.home);
    const applying = hamJson(t.home, ['apply', '-f', config(t.home, n, base)]);
    // The launcher starts with the first keeper: kill it at once, while most requests are still ahead of it.
    const first = await waitFor('the launcher', () => launcherOf(up.ham.pid), 30_000, 1);
    process.kill(first, 'SIGKILL');
    await applying;
    const s = await waitStatus(t.home, `${n} running`, (x) => x.entities.filter((e) => e.state === 'running').length === n, 120_000);
    expect([s.ham.pid, s.ham.epoch, s.ham.failures]).toEqual([before.ham.pid, before.ham.epoch, before.ham.failures]); // no takeover while starting
    expect(s.entities.every((e) => e.restarts === 0)).toBe(true);
    const second = launcherOf(up.ham.pid);
    expect(second).not.toBe(first);
    expect(readFileSync(homePaths(t.home).daemonLog, 'utf8')).toContain('the keeper launcher died');
    // Settled: nothing more to start; a late duplicate would show here.
    await waitFor('all started', async () => (await status(t.home)).entities.every((e) => e.pid !== null && e.state === 'running'));
    expectEachOnce(t.home, n, base);
  }, 180_000);

  it('the HAM SIGKILLed while its launcher starts a few hundred: the next HAM starts the rest, each exactly once', async () => {
    t = tempHome();
    const n = 300;
    const base = 6_000_000 + Math.floor(Math.random() * 1_000_000);
    const up = await hamJson<{ ham: { pid: number } }>(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['apply', '-f', config(t.home, n, base)]);
    const launcher = await waitFor('the launcher', () => launcherOf(up.ham.pid), 30_000, 1);
    process.kill(up.ham.pid, 'SIGKILL'); // requests still in the launcher's pipe are never carried out
    await waitFor('the launcher gone with its HAM', () => !findProcesses((a) => a[0] === LAUNCHER_BINARY).includes(launcher), 30_000);
    await waitStatus(
      t.home,
      `${n} running under a new HAM`,
      (x) => x.ham.pid !== up.ham.pid && x.entities.filter((e) => e.state === 'running').length === n,
      120_000,
    );
    await waitFor('all started', async () => (await status(t.home)).entities.every((e) => e.pid !== null && e.state === 'running'));
    expectEachOnce(t.home, n, base);
  }, 180_000);

  it('HAM_LAUNCHER=off: the HAM starts its keepers itself, and no launcher runs', async () => {
    t = tempHome();
    const base = 5_000_000 + Math.floor(Math.random() * 1_000_000);
    const up = await hamJson<{ ham: { pid: number } }>(t.home, ['start', ...CALM], { HAM_LAUNCHER: 'off' });
    await hamJson(t.home, ['apply', '-f', config(t.home, 20, base)]);
    await waitStatus(t.home, '20 running', (x) => x.entities.filter((e) => e.state === 'running').length === 20, 60_000);
    expect(launcherOf(up.ham.pid)).toBeUndefined();
    expectEachOnce(t.home, 20, base);
  }, 90_000);
});

describe('open files', () => {
  const underLimit = (soft: number, hard: number, home: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) =>
      execFile('bash', ['-c', `ulimit -Sn ${soft} && ulimit -Hn ${hard} && exec "$0" "$@"`, process.execPath, CLI_MAIN, '--home', home, ...args], (err) =>
        err ? reject(err) : resolve(),
      ),
    );

  it('the HAM raises its soft limit to the hard one', async () => {
    t = tempHome();
    const hard = Math.min(fdLimit()!.hard, 4096);
    await underLimit(64, hard, t.home, ['start', ...CALM]);
    const pid = (await status(t.home)).ham.pid!;
    expect(fdLimit(`/proc/${pid}/limits`)).toEqual({ soft: hard, hard });
  });

  it('status warns when the hard limit is too low for the entities attached', async () => {
    t = tempHome();
    await underLimit(300, 300, t.home, ['start', ...CALM]);
    expect((await ham(t.home, ['status'])).stdout).not.toContain('open files limited');
    for (let i = 0; i < 50; i++) await request(t.home, 'attach', { name: `e${i}` }); // placeholders: the count is what matters
    const s = (await status(t.home)) as Awaited<ReturnType<typeof status>> & Pick<StatusPage, 'openFiles'>;
    expect(s.openFiles).toEqual({ limit: 300, needed: 50 + 256 });
    expect((await ham(t.home, ['status'])).stdout).toContain('open files limited to 300, the entities need about 306');
  });
});
