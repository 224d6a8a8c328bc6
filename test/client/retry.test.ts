// What a HamClient retries: no HAM yet (a takeover) and passing io errors, not
// a permanent one. A socket path that is a symlink loop (ELOOP) can never
// connect: the request fails with that cause, well before its deadline.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { HamClient } from '../../src/client/client.js';
import { HamError } from '../../src/errors.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('a permanent io error (ELOOP) is not retried: the request fails with it', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ham-retry-'));
  symlinkSync(join(dir, 'b'), join(dir, 'a'));
  symlinkSync(join(dir, 'a'), join(dir, 'b'));
  const c = new HamClient(join(dir, 'a'));
  try {
    // The deadline is long: a client that retried would fail with not-running only after it.
    const e = (await c.request('ping', {}, 120_000).catch((x: unknown) => x)) as HamError;
    expect(e).toBeInstanceOf(HamError);
    expect(e).toMatchObject({ code: 'io', causeText: 'ELOOP' });
  } finally {
    c.close();
  }
}, 60_000);

it('no HAM yet (nothing at the path) is retried until the deadline, then not-running', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ham-retry-'));
  const c = new HamClient(join(dir, 'ham.sock'));
  try {
    await expect(c.request('ping', {}, 1500)).rejects.toMatchObject({ code: 'not-running' });
  } finally {
    c.close();
  }
});
