// A subscriber that stops reading cannot slow the HAM or anyone else: past a
// bounded backlog it is cut off with an error that says where to resume.
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { CALM, hamJson, request, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
  await request(t.home, 'attach', { name: 'src' });
});
afterEach((ctx) => t.cleanup(ctx));

describe('a slow subscriber', () => {
  it('is cut off with an error naming where to resume; the HAM and a fast subscriber go on', async () => {
    const sock = join(t.home, 'ham.sock');
    const slow = netConnect(sock);
    await new Promise((r) => slow.once('connect', r));
    slow.write(encodeFrame({ id: 7, op: 'subscribe', args: { since: 0 } }));
    slow.pause(); // never reads again (until the end)

    let fast = 0;
    const good = await Connection.open(sock);
    await good.subscribe({ since: 0 }, () => void fast++);

    const raisers = await Promise.all([1, 2, 3, 4].map(() => Connection.open(sock)));
    const N = 80_000;
    let next = 0;
    await Promise.all(
      raisers.flatMap((c) =>
        Array.from({ length: 128 }, async () => {
          while (next++ < N) await c.request('raise', { entity: 'src', type: 'flood' }, 60_000);
        }),
      ),
    );
    for (const c of raisers) c.close();

    expect((await status(t.home)).lastSeq).toBeGreaterThanOrEqual(N);
    await waitFor('the fast subscriber to have everything', async () => fast >= (await status(t.home)).lastSeq, 60_000);

    // Now read what the slow one was sent: events, then the error that ends the subscription.
    const dec = new FrameDecoder();
    const frames: { event?: { seq: number }; ok?: boolean; error?: { message: string } }[] = [];
    slow.on('data', (d: Buffer) => frames.push(...(dec.push(d) as typeof frames)));
    slow.resume();
    await waitFor('the error frame', () => frames.some((f) => f.ok === false));
    const err = frames.find((f) => f.ok === false);
    // The connection itself stays usable (only the subscription ended).
    slow.write(encodeFrame({ id: 8, op: 'ping', args: {} }));
    await waitFor('the ping answered on the same connection', () => frames.some((f) => (f as { id?: number }).id === 8 && f.ok === true));
    expect(err?.error?.message).toMatch(/subscriber fell \d+ bytes behind \(at most \d+\); resume with since=\d+/);
    const delivered = frames.filter((f) => f.event).map((f) => f.event!.seq);
    slow.destroy();
    const resumeAt = Number(/since=(\d+)/.exec(err!.error!.message)![1]);
    expect(delivered.length).toBeLessThan(N); // it was cut off before the end
    expect(delivered).toEqual(Array.from({ length: delivered.length }, (_, i) => i + 1)); // in order, no gap
    expect(resumeAt).toBeGreaterThanOrEqual(delivered[delivered.length - 1]!); // resuming there loses nothing
    good.close();
  }, 120_000);
});
