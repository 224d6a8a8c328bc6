// The keeper scan (src/proc/keepers.ts) trusts only what a keeper of ours can have written (review L1): a
// FIFO or a symlink to /dev/zero named `argv` neither blocks nor floods the HAM, a folder outside `keepers`
// is not read, a process of another user is not asked.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/ham.js';
import { keeperDirOf, MAX_ARGV_BYTES, readKeeperArgvFile } from '../../src/proc/keepers.js';

let root: string;
let keepers: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ham-keepers-'));
  keepers = join(root, 'keepers');
  mkdirSync(keepers);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function folder(tag: string): string {
  const d = join(keepers, tag);
  mkdirSync(d);
  return d;
}

describe('reading a keeper folder’s argv', () => {
  it('reads a keeper’s own argv file in the keepers folder', () => {
    const d = folder('3-1');
    writeFileSync(join(d, 'argv'), 'keeper\0/x\0--\0sleep\0 9\0');
    expect(readKeeperArgvFile(d, keepers)).toEqual(['keeper', '/x', '--', 'sleep', ' 9']);
  });

  it('refuses a FIFO without blocking, a symlink (to /dev/zero), and a file past the bound', () => {
    const fifo = folder('3-2');
    execFileSync('mkfifo', [join(fifo, 'argv')]);
    expect(readKeeperArgvFile(fifo, keepers)).toBeUndefined();
    const link = folder('3-3');
    symlinkSync('/dev/zero', join(link, 'argv'));
    expect(readKeeperArgvFile(link, keepers)).toBeUndefined();
    const big = folder('3-4');
    writeFileSync(join(big, 'argv'), '');
    truncateSync(join(big, 'argv'), MAX_ARGV_BYTES + 1);
    expect(readKeeperArgvFile(big, keepers)).toBeUndefined();
  });

  it('refuses a folder outside the keepers folder, one not named as a keeper’s, and a symlinked folder', () => {
    const elsewhere = join(root, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'argv'), 'a\0');
    expect(readKeeperArgvFile(elsewhere, keepers)).toBeUndefined();
    expect(readKeeperArgvFile(join(keepers, '..', 'elsewhere'), keepers)).toBeUndefined();
    const odd = folder('odd');
    writeFileSync(join(odd, 'argv'), 'a\0');
    expect(readKeeperArgvFile(odd, keepers)).toBeUndefined();
    symlinkSync(elsewhere, join(keepers, '5-1'));
    expect(readKeeperArgvFile(join(keepers, '5-1'), keepers)).toBeUndefined();
  });

  it('does not read the environment of a process that is not ours', async () => {
    if (process.getuid?.() !== 0) return expect(keeperDirOf(1)).toBeUndefined(); // init: root's
    const other = spawn('sleep', ['1000'], { uid: 65534, gid: 65534, env: { HAM_KEEPER_DIR: folder('6-1') }, stdio: 'ignore' });
    try {
      await waitFor('it runs as nobody', () => statSync(`/proc/${other.pid}`).uid === 65534);
      expect(keeperDirOf(other.pid!)).toBeUndefined();
    } finally {
      process.kill(other.pid!, 'SIGKILL');
    }
  });
});
