// An execute action's output is written off the HAM's loop (review finding:
// a synchronous open/write/close per chunk): a command flooding its output
// does not keep another client's requests from being answered, and a log that
// blocks (a FIFO where `current` was, as a stalled disk would) neither hangs
// the HAM nor loses count: its lines are dropped, counted and said.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { statusAll } from '../../src/client/pages.js';
import { parseLogLine } from '../../src/logs/line.js';
import { entityLogDir } from '../../src/model/log-names.js';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, lines, procsWith, request, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
  await hamJson(t.home, ['attach', 'x', '--', ...sleeper(`${t.home}/x`)]);
  await waitStatus(t.home, 'x running', (s) => entity(s, 'x').state === 'running');
});
afterAll((suite) => t.cleanup({ task: suite }));

const logDir = (condition: string): string => entityLogDir(join(t.home, 'logs'), `x/${condition}`);
const logLines = (condition: string): string[] => {
  try {
    return readFileSync(join(logDir(condition), 'current'), 'utf8')
      .split('\n')
      .slice(0, -1);
  } catch {
    return [];
  }
};

async function onRaise(condition: string, argv: string[], timeoutMs = 10_000): Promise<void> {
  await request(t.home, 'condition-add', {
    entity: 'x',
    name: condition,
    condition: { type: 'raise', rearm: true, match: { type: condition }, actions: [{ kind: 'execute', argv, timeoutMs }] },
  });
}

describe('execute output, written off the loop', () => {
  it("a command flooding its output: another client's status requests keep being answered", async () => {
    const marker = `${t.home}/flood`;
    await onRaise('flood', ['perl', '-e', '$| = 1; my $l = ("y" x 200) . "\\n"; print $l while 1;', marker], 120_000);
    const ham = (await status(t.home)).ham.pid;
    await request(t.home, 'raise', { entity: 'x', type: 'flood' });
    await waitFor('the flood running and logged', () => procsWith(marker).length === 1 && logLines('flood').length > 1000, 30_000);
    // Its own connection, as another client: twenty status answers while the flood goes on (each within a
    // generous minute: answered, not how fast).
    const c = await Connection.open(join(t.home, 'ham.sock'), 5000);
    try {
      for (let i = 0; i < 20; i++) {
        const s = await statusAll(c, undefined, 60_000);
        expect(s.ham.pid).toBe(ham);
        expect(entity(s, 'x').state).toBe('running');
      }
    } finally {
      c.close();
    }
    expect(procsWith(marker).length).toBe(1); // it flooded all along
    for (const pid of procsWith(marker)) process.kill(-pid, 'SIGKILL');
    await waitFor('the flood gone', () => procsWith(marker).length === 0);
    // What was kept is in the keepers' shape, whole lines (a dropped stretch is said by a `ham` line).
    const kept = logLines('flood').slice(0, 2000);
    for (const l of kept) expect(parseLogLine('x/flood', l)?.line).toMatch(/^y{200}$|^\[ham: \d+ lines dropped: the log could not be written \(.+\)\]$/);
  }, 180_000);

  it('a log that blocks (a FIFO as current) does not hang the HAM; its lines are dropped, and it writes again once fixed', async () => {
    mkdirSync(logDir('blocked'), { recursive: true, mode: 0o700 });
    const fifo = join(logDir('blocked'), 'current');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const ran = `${t.home}/blocked.ran`;
    const runs = (): number => lines(ran).length;
    await onRaise('blocked', ['perl', '-e', 'print "first\\n"; open(my $f, ">>", $ARGV[0]) or die; print $f "ran\\n";', ran]);
    const before = await status(t.home);
    // Two runs: the second is started by a HAM that has read the first one's output (its open of the FIFO
    // blocked the loop for good, before: the Guardian took over).
    for (const n of [1, 2]) {
      await request(t.home, 'raise', { entity: 'x', type: 'blocked' });
      await waitFor(`run ${n}`, () => runs() === n, 30_000);
    }
    expect((await status(t.home)).ham.pid).toBe(before.ham.pid); // the same HAM: not hung, not taken over
    rmSync(fifo);
    await request(t.home, 'raise', { entity: 'x', type: 'blocked' });
    await waitFor('run 3', () => runs() === 3, 30_000);
    const kept = await waitFor('a run logged once the FIFO is gone', () => (logLines('blocked').length > 0 ? logLines('blocked') : undefined), 30_000);
    // What could not be written is said first (a line written after the FIFO went needed no note).
    for (const l of kept) expect(parseLogLine('x/blocked', l)?.line).toMatch(/^first$|^\[ham: [12] lines dropped: the log could not be written \(\w+\)\]$/);
    expect((await status(t.home)).ham.pid).toBe(before.ham.pid);
  }, 120_000);
});
