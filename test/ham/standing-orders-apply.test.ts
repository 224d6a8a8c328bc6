// An apply that changes what a keeper would start (command, env, ...): the
// next start runs the new definition, whether the keeper restarts it by its
// standing order, the HAM answers its death, or a new HAM took over between
// the apply and the death. Real pair, real kill -9; the entity writes its
// argv and env to a file at each start. And re-applying an unchanged file
// after such a restart reports no change (a one-shot it pruned stays spent).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, pairOf } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, keepersWith, procsWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };
const SCRIPT = 'open my $f, ">>", "$ARGV[0].starts" or die; print $f "$ARGV[1] $ENV{V}\\n"; close $f; sleep 100000';

/** web, started as `tag` with V=`v`; initialMs > 0: no standing order (every restart waits). */
function config(marker: string, tag: string, v: string, initialMs = 0): object {
  return {
    entities: {
      web: {
        command: ['perl', '-e', SCRIPT, marker, tag],
        env: { V: v },
        conditions: { died },
        restart: { backoff: { initialMs, factor: 1, maxMs: initialMs } },
      },
    },
  };
}

const logLines = (): string[] => readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').split('\n');
const starts = (marker: string): string[] => (existsSync(`${marker}.starts`) ? readFileSync(`${marker}.starts`, 'utf8').trim().split('\n') : []);
const orders = (what: 'given' | 'revoked', pid?: number): number =>
  logLines().filter((l) => l.includes(`"standing order ${what}"`) && l.includes('"entity":"web"') && (pid === undefined || l.includes(`"pid":${pid},`))).length;
const orderedDeaths = (): number =>
  logLines().filter((l) => l.includes('"keeper record X"') && l.includes('"entity":"web"') && l.includes('"ordered":true')).length;

/** Kill web's process; wait for the next instance to run and to have written its line. */
async function killAndBack(marker: string): Promise<string> {
  const before = entity(await status(t.home), 'web');
  const n = starts(marker).length;
  process.kill(before.pid!, 'SIGKILL');
  await waitStatus(t.home, 'web back', (s) => entity(s, 'web').state === 'running' && entity(s, 'web').deaths === before.deaths + 1);
  await waitFor('its start written', () => starts(marker).length > n);
  await waitFor('one process', () => procsWith(marker).length === 1);
  return starts(marker).at(-1)!;
}

describe('a changed definition and the next restart', () => {
  it('under a standing order: the apply revokes it, and the restart runs the new command and env', async () => {
    const marker = `${t.home}/web`;
    await applyConfig(t.home, config(marker, 'one', 'a'));
    const hamPid = (await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running')).ham.pid!;
    await waitFor('an order given', () => orders('given', hamPid) > 0);
    expect(await killAndBack(marker)).toBe('one a'); // by the order, as before
    expect(orderedDeaths()).toBe(1);
    await waitFor('the order renewed', () => orders('given', hamPid) > 1);
    const revoked = orders('revoked');
    await applyConfig(t.home, config(marker, 'two', 'b'));
    await waitFor('the order revoked', () => orders('revoked') > revoked);
    expect(await killAndBack(marker)).toBe('two b');
    expect(orderedDeaths()).toBe(1); // it asked
    expect(entity(await status(t.home), 'web')).toMatchObject({ deaths: 2, restarts: 2 });
    await waitFor('the old keeper gone', () => keepersWith(marker).length === 1);
    await waitFor('only the new keeper has a folder', () => readdirSync(join(t.home, 'run', 'keepers')).length === 1);
    // The new keeper holds the new definition: it gets an order again, and restarts by it with that.
    await waitFor('an order for the new keeper', () => orders('given', hamPid) > 2);
    expect(await killAndBack(marker)).toBe('two b');
    expect(orderedDeaths()).toBe(2);
  });

  it('without an order: the restart the HAM decides runs the new definition too', async () => {
    const marker = `${t.home}/web`;
    await applyConfig(t.home, config(marker, 'one', 'a', 100));
    await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running');
    expect(await killAndBack(marker)).toBe('one a');
    await applyConfig(t.home, config(marker, 'two', 'b', 100));
    expect(await killAndBack(marker)).toBe('two b');
    expect(await killAndBack(marker)).toBe('two b');
    expect(orderedDeaths()).toBe(0);
    await waitFor('one keeper', () => keepersWith(marker).length === 1);
  });

  it('a HAM killed after the apply: the new HAM restarts it with the new definition', async () => {
    const marker = `${t.home}/web`;
    await applyConfig(t.home, config(marker, 'one', 'a'));
    const s0 = await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running');
    const pair = pairOf(s0)!;
    await waitFor('an order given', () => orders('given', pair.ham) > 0);
    await applyConfig(t.home, config(marker, 'two', 'b'));
    process.kill(pair.ham, 'SIGKILL');
    await waitStatus(t.home, 'a new HAM', (s) => s.ham.pid !== null && s.ham.pid !== pair.ham);
    expect(await killAndBack(marker)).toBe('two b');
    expect(entity(await status(t.home), 'web')).toMatchObject({ deaths: 1, restarts: 1 });
  });

  it('re-applying the same file after a restart by order: unchanged (its one-shot condition stays spent)', async () => {
    const marker = `${t.home}/web`;
    const file = {
      entities: { web: { command: ['perl', '-e', SCRIPT, marker, 'one'], conditions: { died: { type: 'death', actions: [{ kind: 'restart' }] } } } },
    };
    await applyConfig(t.home, file);
    const hamPid = (await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running')).ham.pid!;
    await waitFor('an order given', () => orders('given', hamPid) > 0);
    await killAndBack(marker);
    expect(orderedDeaths()).toBe(1);
    expect(entity(await status(t.home), 'web').conditions).toEqual([]); // pruned at the restart: not re-armed
    expect(await applyConfig(t.home, file)).toEqual({ dryRun: false, changes: [{ entity: 'web', change: 'unchanged', details: [] }] });
    expect(entity(await status(t.home), 'web').conditions).toEqual([]);
  });
});
