// `ps` tells the pair apart (issue 14): the HAM shows its home and epoch, the
// Guardian its home, and a Guardian that takes over shows the HAM's title.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonTitle } from '../../src/paths.js';
import { cmdline } from '../../src/proc/procfs.js';
import { pairOf } from '../helpers/entities.js';
import { CALM, daemons, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterAll((suite) => t.cleanup({ task: suite }));

const title = (pid: number): string => cmdline(pid)[0] ?? '';

describe('process titles', () => {
  it('the HAM and the Guardian say what they are; after a takeover the new HAM says so with its epoch', async () => {
    const before = await status(t.home);
    const pair = pairOf(before)!;
    await waitFor('both titled', () => title(pair.ham).startsWith('ham: HAM') && title(pair.guardian).startsWith('ham: guardian'));
    expect(title(pair.ham)).toBe(daemonTitle('ham', t.home, before.ham.epoch));
    expect(title(pair.guardian)).toBe(daemonTitle('guardian', t.home));
    expect(daemons(t.home).sort()).toEqual([pair.ham, pair.guardian].sort());

    process.kill(pair.ham, 'SIGKILL');
    const after = await waitStatus(t.home, 'a new pair', (s) => s.ham.epoch > before.ham.epoch && pairOf(s) !== undefined && s.guardian.pid !== pair.guardian);
    const next = pairOf(after)!;
    expect(next.ham).toBe(pair.guardian); // a Guardian becomes the HAM in place
    await waitFor('the new Guardian titled', () => title(next.guardian).startsWith('ham: guardian'));
    expect(title(next.ham)).toBe(daemonTitle('ham', t.home, after.ham.epoch));
    expect(title(next.guardian)).toBe(daemonTitle('guardian', t.home));
  });
});
