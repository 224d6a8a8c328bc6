// The frame fuzzer (bench/fuzz-frames.ts) at a CI-affordable size: a few
// thousand fuzzed frames over hundreds of connections. The HAM must neither
// crash nor hang (same pid, same epoch: no takeover), stay bounded in memory,
// and keep the store intact (status answers with the same entities).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzFrames } from '../../bench/fuzz-frames.js';
import type { StatusView } from '../../src/protocol/views.js';
import { hamJson, request, sleeper, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start']); // the default hang threshold: fuzzing must not look like a hang
  await request(t.home, 'attach', { name: 'web', argv: sleeper('fuzz-web'), restart: true });
  await request(t.home, 'attach', { name: 'later' });
  await request(t.home, 'condition-add', { entity: '*', name: 'any-death', condition: { type: 'death', actions: [{ kind: 'log', message: 'died' }] } });
  await waitStatus(t.home, 'web running', (s) => s.entities.some((e) => e.name === 'web' && e.state === 'running'));
});
afterAll((suite) => t.cleanup({ task: suite }));

/** What must not change: each entity's identity, process and configuration. */
const shape = (s: StatusView) => ({
  entities: s.entities.map((e) => ({
    name: e.name,
    kind: e.kind,
    pid: e.pid,
    state: e.state,
    restarts: e.restarts,
    conditions: e.conditions.map((c) => [c.name, c.type, c.actions.map((a) => a.kind)]),
  })),
  global: s.global?.conditions.map((c) => c.name),
});

describe('fuzzed frames', () => {
  it('3,000 frames over many connections: no crash, no takeover, RSS bounded, the store intact', async () => {
    const before = await status(t.home);
    const r = await fuzzFrames(t.home, { frames: 3000, seed: 7 });
    expect(r.framesSent).toBe(3000);
    expect(r.connections).toBeGreaterThan(100);
    expect(r.errorsAnswered).toBeGreaterThan(1000); // the fuzz reached the validators
    expect(r.connectionsCut).toBeGreaterThan(0); // and the framing errors
    expect(r.codes['bad-request']).toBeGreaterThan(0);
    expect(r.hamAfter).toEqual(r.hamBefore);
    expect(r.rssAfter - r.rssBefore).toBeLessThan(128 * 1024 * 1024);
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(shape(after)).toEqual(shape(before));
  }, 180_000);
});
