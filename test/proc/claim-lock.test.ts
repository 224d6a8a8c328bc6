// The home's claim lock (src/proc/fds.ts): a real flock through the fd addon. Two opens of one
// file are two open file descriptions, so the second conflicts with the first even in one process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { holdClaimLock } from '../../src/proc/fds.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the claim lock', () => {
  it('is refused with a timeout naming the lock while another holds it, and taken once it is released', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ham-claim-'));
    dirs.push(dir);
    const path = join(dir, 'claim.lock');
    const release = holdClaimLock(path);
    let err: unknown;
    try {
      holdClaimLock(path, 50)();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'timeout', message: expect.stringContaining(path) });
    release();
    const again = holdClaimLock(path, 50);
    again();
  });
});
