// Role compare-and-set on a real LMDB store, including across processes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { claimHam, dropGuardian, markStopping, registerGuardian, takeOver } from '../../src/store/roles.js';
import { Store } from '../../src/store/store.js';

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-store-'));
  store = new Store(dir);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const me = procId(process.pid)!;
const dead = { pid: 999_999_999, start: 1 };

describe('roles', () => {
  it('claiming the HAM role bumps the epoch; a live HAM refuses a second claim', () => {
    expect(claimHam(store, me, isAlive).epoch).toBe(1);
    const other = procId(process.ppid)!;
    expect(() => claimHam(store, other, isAlive)).toThrow(/already serves this home/);
    expect(store.roles()).toMatchObject({ epoch: 1, ham: me });
  });

  it('a dead HAM does not block a new claim', () => {
    store.write(() => store.putRoles({ ...store.roles(), epoch: 4, ham: dead }));
    expect(claimHam(store, me, isAlive).epoch).toBe(5);
  });

  it('a takeover needs the same epoch and to still be the registered Guardian', () => {
    store.write(() => store.putRoles({ ...store.roles(), epoch: 3, ham: dead }));
    registerGuardian(store, 3, me);
    expect(() => takeOver(store, 2, me)).toThrow(/roles moved on/);
    const c = takeOver(store, 3, me);
    expect(c.epoch).toBe(4);
    expect(store.roles()).toMatchObject({ epoch: 4, ham: me, guardian: null, hamFailures: 1 });
    expect(() => takeOver(store, 3, me)).toThrow(/roles moved on/); // only once
  });

  it('no takeover while stopping', () => {
    const { epoch } = claimHam(store, dead.pid === 0 ? me : me, isAlive);
    registerGuardian(store, epoch, me);
    markStopping(store, epoch);
    expect(() => takeOver(store, epoch, me)).toThrow(/being stopped/);
  });

  it('every write of an old epoch is fenced', () => {
    const { epoch } = claimHam(store, me, isAlive);
    store.write(() => store.putRoles({ ...store.roles(), epoch: epoch + 1 }));
    expect(() => store.fenced(epoch, () => 1)).toThrow(/held epoch 1, the store is at 2/);
    expect(() => dropGuardian(store, epoch, me, true)).toThrow(/fenced|held epoch/);
  });

  it('two processes racing for the role: exactly one wins each epoch', () => {
    claimHam(store, { pid: 999_999_998, start: 1 }, isAlive); // a dead holder, epoch 1
    registerGuardian(store, 1, me);
    // Another process tries the same takeover concurrently through LMDB.
    const script = `
      import { Store } from '${join(PACKAGE_ROOT, 'dist/src/store/store.js')}';
      import { takeOver } from '${join(PACKAGE_ROOT, 'dist/src/store/roles.js')}';
      const s = new Store(${JSON.stringify(dir)});
      try { takeOver(s, 1, ${JSON.stringify(me)}); console.log('won'); } catch (e) { console.log('lost: ' + e.message); }`;
    expect(takeOver(store, 1, me).epoch).toBe(2);
    const other = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(other).toMatch(/^lost: roles moved on/);
    expect(store.roles().epoch).toBe(2);
  });
});
