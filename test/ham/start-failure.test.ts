// An entity whose command cannot be exec'd, as data: the keeper's F ERRNO
// record becomes the entity's lastFailure (argv, startError: the errno name)
// in `ham status NAME`, and the failure of the attach that started it.
// Real daemon, real keeper, real exec failures.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALM, ham, hamJson, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';
import { entity } from '../helpers/entities.js';

describe('a start that fails, as data (real daemon, real keeper)', () => {
  let t: TestHome;
  beforeAll(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', ...CALM]);
  });
  afterAll((suite) => t.cleanup({ task: suite }));

  it('attach: a script whose interpreter does not exist fails with argv and ENOENT, over the wire and in --json', async () => {
    const script = join(t.home, 'orphan.sh');
    writeFileSync(script, '#!/no/such/interpreter\n');
    chmodSync(script, 0o700); // executable: it passes the check at attach, and exec fails
    const r = await ham(t.home, ['--json', 'attach', 'lost', '--', script, 'a b', '']);
    expect(r.code).toBe(1);
    const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; failure?: unknown } };
    expect(error.code).toBe('spawn-failed');
    expect(error.message).toContain('ENOENT'); // the sentence stays
    expect(error.failure).toEqual({ argv: [script, 'a b', ''], exitCode: null, signal: null, startError: 'ENOENT' });
  });

  it('a command removed while it runs: its restart fails, and `ham status NAME` shows argv and the errno', async () => {
    const script = join(t.home, 'server.sh');
    writeFileSync(script, '#!/bin/sh\nexec sleep 1000\n');
    chmodSync(script, 0o700);
    await hamJson(t.home, ['attach', 'web', '--restart', '--', script, '--port', '8080']);
    const up = await waitStatus(t.home, 'web running', (s) => entity(s, 'web')?.state === 'running' && entity(s, 'web')?.pid !== null);
    expect(entity(up, 'web')!.lastFailure).toBeNull();
    rmSync(script);
    process.kill(entity(up, 'web')!.pid!, 'SIGKILL');
    const s = await waitStatus(t.home, 'the restart failed', (x) => entity(x, 'web')?.lastFailure != null);
    const e = entity(s, 'web')!;
    expect(e.lastFailure).toEqual({ argv: [script, '--port', '8080'], exitCode: null, signal: null, startError: 'ENOENT' });
    expect(e.lastError).toMatch(/cannot execute .*server\.sh.*: ENOENT/);
    const text = await ham(t.home, ['status', 'web']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/last failure: +argv ".*server\.sh" "--port" "8080", not started: ENOENT/);
    // Once it runs again, the failure is history: cleared with the next instance.
    writeFileSync(script, '#!/bin/sh\nexec sleep 1000\n');
    chmodSync(script, 0o700);
    await hamJson(t.home, ['reset', 'web']);
    const again = await waitStatus(t.home, 'web back', (x) => entity(x, 'web')?.state === 'running');
    expect(entity(again, 'web')!.lastFailure).toBeNull();
    expect((await status(t.home)).entities.length).toBe(1); // the failed attach left nothing behind
  });
});

describe('a start in a folder that is gone, as data (real daemon)', () => {
  let t: TestHome;
  beforeAll(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', ...CALM]);
  });
  afterAll((suite) => t.cleanup({ task: suite }));

  it('its cwd removed, then its keeper and process killed: no new keeper can start there, and `ham status NAME` says so with its argv', async () => {
    const dir = join(t.home, 'work');
    mkdirSync(dir);
    await hamJson(t.home, ['attach', 'job', '--restart', '--cwd', dir, '--', 'sleep', '1000']);
    const up = await waitStatus(
      t.home,
      'job running',
      (s) => entity(s, 'job')?.state === 'running' && entity(s, 'job')?.pid !== null && entity(s, 'job')?.keeperPid !== null,
    );
    rmSync(dir, { recursive: true });
    // A keeper that lives restarts it from the folder it holds open; a new one must be started in the path, which is gone.
    process.kill(entity(up, 'job')!.keeperPid!, 'SIGKILL');
    process.kill(entity(up, 'job')!.pid!, 'SIGKILL');
    const s = await waitStatus(t.home, 'the restart failed', (x) => entity(x, 'job')?.lastFailure != null);
    const f = entity(s, 'job')!.lastFailure!;
    expect(f).toMatchObject({ argv: ['sleep', '1000'], exitCode: null, signal: null });
    expect(f.startError).toMatch(/the keeper .* could not be started/);
    const text = await ham(t.home, ['status', 'job']);
    expect(text.stdout).toContain(`last failure:`);
    expect(text.stdout).toContain(`not started: ${f.startError}`);
  });
});
