// The client library with real client processes: self-attach, heartbeats,
// missed marks, death, saved state and instances, subscriptions and
// takeovers.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';
import type { EventView } from '../../src/protocol/views.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { entity, pairOf } from '../helpers/entities.js';
import { events, hamJson, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

const FIXTURE = join(PACKAGE_ROOT, 'test', 'fixtures', 'self-client.mjs');

let t: TestHome;
const children: ChildProcess[] = [];
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
});
afterEach((ctx) => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  t.cleanup(ctx);
});

/** Start a client process; resolves once its N entities are attached, with what it printed. */
async function client(period: number, n: number, prefix: string, silentAfterMs?: number) {
  const c = spawn(process.execPath, [FIXTURE, t.home, String(period), String(n), prefix, ...(silentAfterMs ? [String(silentAfterMs)] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(c);
  const out: string[] = [];
  let buf = '';
  c.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  await waitFor(`${prefix}: ${n} attached`, () => out.filter((l) => l.startsWith('{')).length === n);
  return { proc: c, out, attached: out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { name: string; instance: number; restored: unknown }) };
}

const lastBeat = (out: string[]): number =>
  Number(
    out
      .filter((l) => l.startsWith('beat '))
      .pop()!
      .slice(5),
  );
const heartbeatEvents = async () => (await events(t.home)).filter((e) => e.condition.startsWith('heartbeat-missed'));

describe('self-attached clients', () => {
  it('missed-low and missed-high fire at their marks, once per episode', async () => {
    const { out } = await client(100, 1, 'hb', 500);
    const evs = await waitFor('both marks', async () => {
      const e = await heartbeatEvents();
      return e.length === 2 ? e : undefined;
    });
    const last = lastBeat(out);
    const [low, high] = evs.map((e) => Date.parse(e.time) - last);
    expect(evs.map((e) => e.condition)).toEqual(['heartbeat-missed-low', 'heartbeat-missed-high']);
    // Never before 3 and 6 periods of 100 ms after the last beat (the clock is ms). How late they may
    // come is the benchmark's (heartbeat lateness), not a test's: on a loaded machine it varies.
    expect(low).toBeGreaterThanOrEqual(290);
    expect(high).toBeGreaterThanOrEqual(590);
    const s = await status(t.home);
    expect(entity(s, 'hb0')).toMatchObject({ kind: 'self', state: 'running', heartbeat: { periodMs: 100, missedLow: 3, missedHigh: 6, state: 'missed-high' } });
    expect(entity(s, 'hb0').heartbeat!.missed).toBeGreaterThanOrEqual(6);
    // Still silent: no more marks in this episode.
    await waitFor('several more periods', async () => entity(await status(t.home), 'hb0').heartbeat!.missed >= 12);
    expect(await heartbeatEvents()).toHaveLength(2);
  });

  it('a heartbeat-healthy action ends the episode: the marks can fire again', async () => {
    await request(t.home, 'attach', { name: 'hh0' }); // a placeholder: conditions first
    await request(t.home, 'condition-add', {
      entity: 'hh0',
      name: 'high',
      condition: { type: 'heartbeat-missed-high', rearm: true, actions: [{ kind: 'heartbeat-healthy' }] },
    });
    await client(50, 1, 'hh', 300);
    await waitFor('two episodes', async () => (await heartbeatEvents()).length >= 4);
    expect((await heartbeatEvents()).slice(0, 4).map((e) => e.condition)).toEqual([
      'heartbeat-missed-low',
      'heartbeat-missed-high',
      'heartbeat-missed-low',
      'heartbeat-missed-high',
    ]);
  });

  it('a client killed with SIGKILL fires death; the next instance restores what the previous stored', async () => {
    const first = await client(100, 1, 'app');
    expect(first.attached[0]).toMatchObject({ name: 'app0', instance: 1, restored: null });
    first.proc.kill('SIGKILL');
    const s = await waitStatus(t.home, 'app0 dead', (x) => entity(x, 'app0').state === 'dead');
    expect(entity(s, 'app0')).toMatchObject({ deaths: 1, pid: null });
    expect((await events(t.home)).filter((e) => e.entity === 'app0').map((e) => e.condition)).toEqual(['attach', 'death']);
    const second = await client(100, 1, 'app');
    expect(second.attached[0]).toMatchObject({ instance: 2, restored: { pid: first.proc.pid, instance: 1 } });
    expect(entity(await status(t.home), 'app0')).toMatchObject({ state: 'running', pid: second.proc.pid, instance: 2 });
  });

  it('ham stop then start: a self-attached client is not dead, it re-attaches to the new pair', async () => {
    const { proc } = await client(100, 1, 'keep');
    expect((await hamJson<{ stopped: boolean }>(t.home, ['stop'])).stopped).toBe(true);
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const s = await waitStatus(t.home, 'keep0 beating the new HAM', (x) => {
      const h = entity(x, 'keep0').heartbeat;
      return h !== null && h.lastBeatMsAgo !== null && h.lastBeatMsAgo < 300;
    });
    expect(entity(s, 'keep0')).toMatchObject({ state: 'running', deaths: 0, instance: 1, pid: proc.pid });
    expect((await events(t.home)).filter((e) => e.entity === 'keep0').map((e) => e.condition)).toEqual(['attach']);
  });

  it('a name detached by an admin and taken by another process: the first dying does not kill the second', async () => {
    // a holds svc0 and svc1 (one connection each); svc1 stays a's, so its death shows the HAM saw a's connections close.
    const a = await client(100, 2, 'svc');
    await hamJson(t.home, ['detach', 'svc0']);
    const b = await client(100, 1, 'svc');
    expect(b.attached[0]!.instance).toBe(1);
    a.proc.kill('SIGKILL');
    await waitFor('a gone', () => a.proc.exitCode !== null || a.proc.signalCode !== null);
    await waitFor('the death of a’s other entity', async () => (await events(t.home)).some((e) => e.entity === 'svc1' && e.condition === 'death'));
    const s = await status(t.home);
    expect(entity(s, 'svc0')).toMatchObject({ state: 'running', pid: b.proc.pid, deaths: 0 });
    expect((await events(t.home)).filter((e) => e.entity === 'svc0' && e.condition === 'death')).toEqual([]);
  });

  it('detach fires detach and removes the entity; the process lives on', async () => {
    const c = await connect({ home: t.home });
    try {
      const h = await c.attachSelf('lib', {});
      expect(h.instance).toBe(1);
      await h.detach();
      expect((await events(t.home)).filter((e) => e.entity === 'lib').map((e) => e.condition)).toEqual(['attach', 'detach']);
      expect((await status(t.home)).entities.find((e) => e.name === 'lib')).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('the HAM SIGKILLed while 50 clients beat every 50 ms: no missed heartbeat, every client re-attached', async () => {
    const procs = await Promise.all([0, 1, 2, 3, 4].map((i) => client(50, 10, `c${i}-`)));
    // A sentinel with the same period and marks, stopped across the takeover: the new HAM watches it from the
    // same moment and with the same grace as the 50, so its missed-high mark proves the grace and six periods passed.
    const sentinel = await client(50, 1, 'sentinel-');
    const before = await waitStatus(t.home, '51 self entities', (s) => s.entities.filter((e) => e.kind === 'self').length === 51);
    process.kill(sentinel.proc.pid!, 'SIGSTOP');
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'the new HAM', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s));
    const evs = await waitFor('the sentinel missed-high under the new HAM', async () => {
      const all = await events(t.home);
      const takeover = all.find((e) => e.condition === 'takeover')?.seq;
      return takeover && all.some((e) => e.seq > takeover && e.entity === 'sentinel-0' && e.condition === 'heartbeat-missed-high')
        ? { all, takeover }
        : undefined;
    });
    // What the takeover did: no mark after it but the sentinel's. A loaded machine can stall a client past a mark
    // before the kill (while 51 attach): that is not the takeover's, and such an entity keeps its episode's mark.
    const marks = evs.all.filter((e) => e.condition.startsWith('heartbeat-missed'));
    expect(marks.filter((e) => e.seq > evs.takeover && e.entity !== 'sentinel-0')).toEqual([]);
    const markBefore = (name: string) =>
      marks
        .filter((e) => e.seq < evs.takeover && e.entity === name)
        .pop()
        ?.condition.slice('heartbeat-'.length) ?? 'ok';
    const after = await status(t.home);
    const selves = after.entities.filter((e) => e.kind === 'self' && e.name !== 'sentinel-0');
    expect(selves).toHaveLength(50);
    // Entities that entered the takeover with missed-low were still watched for missed-high; at least some entered it healthy.
    expect(selves.filter((e) => markBefore(e.name) === 'ok').length).toBeGreaterThan(0);
    expect(selves.filter((e) => !(e.state === 'running' && e.instance === 1 && e.heartbeat!.state === markBefore(e.name))).map((e) => e.name)).toEqual([]);
    expect(procs.every((p) => p.proc.exitCode === null)).toBe(true);
  });

  it('a subscriber sees every event exactly once, in order, across three takeovers', async () => {
    const c = await connect({ home: t.home });
    const seen: EventView[] = [];
    try {
      await c.subscribe({}, (e) => seen.push(e), 0);
      await request(t.home, 'attach', { name: 'src' });
      let raised = 0;
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 5; i++, raised++) await hamJson(t.home, ['raise', 'src', '--type', `r${round}-${i}`]);
        const s = await status(t.home);
        process.kill(s.ham.pid!, 'SIGKILL');
        await waitStatus(t.home, `takeover ${round + 1}`, (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
      }
      for (let i = 0; i < 5; i++, raised++) await hamJson(t.home, ['raise', 'src', '--type', `last-${i}`]);
      const last = (await status(t.home)).lastSeq;
      await waitFor('every event', () => seen.length >= last);
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      expect(seen.filter((e) => e.condition === 'raise')).toHaveLength(raised);
    } finally {
      c.close();
    }
  });
});
