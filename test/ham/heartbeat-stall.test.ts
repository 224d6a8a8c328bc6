// A HAM that was stalled (SIGSTOP here; a VM pause in life) runs its timers
// before it reads its sockets: the heartbeat monitor must read the beats that
// waited there before it judges a deadline, or it marks missed a client that
// never stopped beating.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { events, hamJson, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

const FIXTURE = join(PACKAGE_ROOT, 'test', 'fixtures', 'self-client.mjs');
let t: TestHome;
const children: ChildProcess[] = [];
afterEach((ctx) => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  t.cleanup(ctx);
});

describe('heartbeats across a stalled HAM', () => {
  it('beats that waited in the socket while the HAM was stopped count: no missed mark', async () => {
    t = tempHome();
    // A hang threshold far away: the Guardian must not take over during the stall.
    const s = await hamJson<{ ham: { pid: number } }>(t.home, ['start', '--hang-ms', '60000']);
    const c = spawn(process.execPath, [FIXTURE, t.home, '200', '1', 'beater'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(c);
    const out: string[] = [];
    c.stdout!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
    await waitFor('attached', () => out.some((l) => l.startsWith('{')));
    process.kill(s.ham.pid, 'SIGSTOP');
    // The HAM stays stopped past the client's missed-high mark (6 × 200 ms) while the client beats on:
    // ten of its beats (2 s by the client's own timer) prove the window passed.
    const beatsBefore = out.filter((l) => l.startsWith('beat ')).length;
    await waitFor('ten beats while the HAM is stopped', () => out.filter((l) => l.startsWith('beat ')).length >= beatsBefore + 10, 30_000);
    process.kill(s.ham.pid, 'SIGCONT');
    // A raise handled after the resume proves the HAM's first turns (timers, sockets) have run.
    await hamJson(t.home, ['raise', 'beater0', '--type', 'proof']);
    const evs = await events(t.home);
    expect(evs.some((e) => e.entity === 'beater0' && e.condition === 'raise')).toBe(true);
    expect(evs.filter((e) => e.condition.startsWith('heartbeat-missed'))).toEqual([]);
  });
});
