// Every takeover that completes leaves exactly one log line and one event:
// the event is written with the role change, the line by whichever process
// next serves as HAM if the one that took over died before writing it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import { entity, exiter, pairOf } from '../helpers/entities.js';
import { events, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

/** The "took over" log lines, by the epoch they name. */
function tookOver(): { epoch: number; late?: boolean }[] {
  return readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"took over the HAM role"'))
    .map((l) => JSON.parse(l) as { epoch: number; late?: boolean });
}
const takeoverEvents = async () => (await events(t.home)).filter((e) => e.condition === 'takeover');

function newPair(killed: number, epoch: number) {
  return waitStatus(t.home, `a whole pair at epoch ${epoch}`, (s) => {
    const p = pairOf(s);
    return !!p && s.ham.epoch === epoch && startTime(killed) === undefined && startTime(p.guardian) !== undefined;
  });
}

describe('takeover log line and event', () => {
  it('each of several takeovers has exactly one log line and one event, naming its epoch', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await hamJson(t.home, ['attach', 'web', '--', ...exiter(`${t.home}/web`, 0)]);
    let s = await status(t.home);
    const first = s.ham.epoch;
    const pid = entity(s, 'web').pid;
    for (let i = 1; i <= 4; i++) {
      process.kill(s.ham.pid!, 'SIGKILL');
      s = await newPair(s.ham.pid!, first + i);
    }
    const epochs = [1, 2, 3, 4].map((i) => first + i);
    const evs = await takeoverEvents();
    expect(evs).toHaveLength(4);
    expect(evs.map((e) => e.entity)).toEqual(['*', '*', '*', '*']);
    expect(evs.map((e) => String(e.detail).match(/epoch (\d+)/)?.[1]).map(Number)).toEqual(epochs);
    const lines = tookOver();
    expect(lines.map((l) => l.epoch)).toEqual(epochs);
    expect(lines.some((l) => l.late)).toBe(false);
    expect(entity(s, 'web')).toMatchObject({ pid, restarts: 0, deaths: 0 }); // nothing else changed
  });

  it('a Guardian killed right after its takeover committed: the next start logs the line, once; the event is there', async () => {
    const points = join(t.home, 'failpoints');
    await hamJson(t.home, ['start', '--hang-ms', '3000'], { HAM_FAILPOINTS: 'takeover-committed', HAM_FAILPOINT_DIR: points });
    const s = await status(t.home);
    process.kill(s.ham.pid!, 'SIGKILL');
    await waitFor('the Guardian at the failpoint', () => existsSync(join(points, 'takeover-committed')));
    process.kill(s.guardian.pid!, 'SIGKILL');
    await waitFor('the Guardian gone', () => startTime(s.guardian.pid!) === undefined);
    expect(tookOver()).toEqual([]); // it died before its line
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const after = await waitStatus(t.home, 'a new pair', (x) => !!pairOf(x) && x.ham.epoch === s.ham.epoch + 2);
    expect(tookOver()).toMatchObject([{ epoch: s.ham.epoch + 1, late: true }]);
    expect(await takeoverEvents()).toHaveLength(1);
    // And the line is not written again by a later HAM.
    process.kill(after.ham.pid!, 'SIGKILL');
    await newPair(after.ham.pid!, after.ham.epoch + 1);
    expect(tookOver().map((l) => l.epoch)).toEqual([s.ham.epoch + 1, after.ham.epoch + 1]);
    expect(await takeoverEvents()).toHaveLength(2);
  });
});
