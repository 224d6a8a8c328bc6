// Which keeper a pair uses is said in `ham status` and once in the daemon log:
// the C keeper when it was built, the Perl fallback otherwise (HAM_KEEPER=perl
// stands in for a machine without a compiler). Entities run under either.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/home.js';
import { ham, hamJson, keepersWith, sleeper, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

describe('the keeper in use', () => {
  it.each([
    ['c', {}, 'ham keeper one'], // its title (keeper-title.c)
    ['perl', { HAM_KEEPER: 'perl' }, 'keeper.pl'],
  ] as const)('%s: shown in status, and entities are kept by it', async (kind, env, argvPart) => {
    t = tempHome();
    await hamJson(t.home, ['start'], env);
    await hamJson(t.home, ['attach', 'one', '--', ...sleeper(`${t.home}/one`)]);
    const s = await waitStatus(t.home, 'one running', (x) => x.entities.some((e) => e.name === 'one' && e.state === 'running'));
    expect((s.ham as { keeper?: string }).keeper).toBe(kind);
    const keepers = await waitFor('its keeper', () => {
      const k = keepersWith(`${t.home}/one`);
      return k.length === 1 ? k : undefined;
    });
    const argv = readFileSync(`/proc/${keepers[0]}/cmdline`, 'utf8').split('\0');
    expect(argv.some((a) => a.includes(argvPart))).toBe(true);
    const text = (await ham(t.home, ['status'])).stdout;
    if (kind === 'perl') {
      expect(text).toContain('keepers: Perl (no C compiler at install)');
      expect(readFileSync(homePaths(t.home).daemonLog, 'utf8')).toContain('keepers: the Perl fallback');
    } else {
      expect(text).not.toContain('keepers: Perl');
    }
  });
});
