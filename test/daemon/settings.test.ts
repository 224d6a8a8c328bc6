// A start's settings are written only by the start that wins the HAM role.
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { nextSettings, startRequest } from '../../src/daemon/settings.js';
import { homePaths } from '../../src/home.js';
import { DAEMON_MAIN } from '../../src/paths.js';
import { Store } from '../../src/store/store.js';
import { DEFAULT_SETTINGS } from '../../src/model/defaults.js';
import { CALM, ham, hamJson, status, tempHome, type TestHome } from '../helpers/ham.js';

const args =
  (a: Record<string, string>) =>
  (name: string): string | undefined =>
    a[name];

describe('start settings (unit)', () => {
  it('takes what was asked, keeps the rest, refuses out-of-range limits, and fixes the base environment once', () => {
    const first = nextSettings(DEFAULT_SETTINGS, startRequest(args({ 'hang-ms': '500', 'allow-user': 'nobody,daemon' }), {}, 'X'), { PATH: '/x', FOO: 'bar' });
    expect(first).toMatchObject({ hangMs: 500, allowUsers: ['nobody', 'daemon'], detectorsDir: null });
    expect(first.baseEnv).not.toBeNull();
    expect(first.baseEnv!.FOO).toBeUndefined();
    const again = nextSettings(first, startRequest(args({ 'store-max-bytes': '1' }), {}, 'X'), { LANG: 'C.UTF-8' });
    expect(again.storeMaxBytes).toBe(DEFAULT_SETTINGS.storeMaxBytes); // below the floor: not taken
    expect(again.baseEnv).toEqual(first.baseEnv); // not re-derived from another shell
    expect(nextSettings(first, startRequest(args({ detectors: '' }), {}, 'X'), {}).detectorsDir).toBeNull();
  });
});

describe('a start that loses the claim', () => {
  let t: TestHome;
  afterEach((ctx) => t?.cleanup(ctx));

  it('changes nothing of the running pair’s settings', async () => {
    t = tempHome();
    await hamJson(t.home, ['start', ...CALM]);
    const before = await status(t.home);
    // A second daemon, as a racing `ham start` would spawn it: it sees the HAM alive and leaves.
    const code = await new Promise<number>((resolve) =>
      execFile(
        process.execPath,
        [DAEMON_MAIN, '--home', t.home, '--role', 'ham', '--hang-ms', '777', '--allow-user', 'nobody', '--saved-max-bytes', '100000'],
        (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
      ),
    );
    expect(code).toBe(0);
    const store = new Store(homePaths(t.home).store);
    try {
      expect(store.settings()).toMatchObject({ hangMs: 3000, allowUsers: [], savedMaxBytes: DEFAULT_SETTINGS.savedMaxBytes });
    } finally {
      store.close();
    }
    expect((await status(t.home)).ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    // The CLI says so rather than dropping the flags silently.
    const r = await ham(t.home, ['start', '--hang-ms', '777', '--saved-max-bytes', '100000']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('--hang-ms, --saved-max-bytes did not take effect');
  });
});
