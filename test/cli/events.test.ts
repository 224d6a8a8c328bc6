// `ham events` and `ham events --follow`, which resumes across takeovers.
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../src/paths.js';
import { pairOf } from '../helpers/entities.js';
import { CALM, ham, hamJson, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
  await hamJson(t.home, ['attach', 'web', '--', ...sleeper(`${t.home}/web`)]);
});
afterEach((ctx) => t.cleanup(ctx));

describe('ham events', () => {
  it('prints the log as JSON lines with seq, ISO time, entity and condition', async () => {
    await hamJson(t.home, ['raise', 'web', '--type', 'latency', '--severity', '3']);
    const r = await ham(t.home, ['events', '--json', '--since', '2']); // #1 the pair's start, #2 web's attach
    const evs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(evs).toEqual([
      { seq: 3, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), entity: 'web', condition: 'raise', raise: { type: 'latency', severity: 3 }, fired: [] },
    ]);
    const human = await ham(t.home, ['events']);
    expect(human.stdout).toMatch(/#1 .* \* pair-start \(pid \d+, ham start: epoch 1\)/);
    expect(human.stdout).toMatch(/#2 .* web attach/);
    expect(human.stdout).toMatch(/#3 .* web raise \(type=latency severity=3\)/);
  });

  it('--follow prints every event exactly once, in order, across a takeover', async () => {
    const follower = spawn(process.execPath, [CLI_MAIN, '--home', t.home, 'events', '--follow', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const seqs = (): number[] =>
      out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
    try {
      for (let i = 0; i < 5; i++) await hamJson(t.home, ['raise', 'web', '--type', `before-${i}`]);
      await waitFor('the first events', () => seqs().length === 7);
      const s = await status(t.home);
      process.kill(s.ham.pid!, 'SIGKILL');
      await waitStatus(t.home, 'the new HAM', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
      for (let i = 0; i < 5; i++) await hamJson(t.home, ['raise', 'web', '--type', `after-${i}`]);
      // 7 before (the pair's start, web's attach, 5 raises), the takeover's own event (with its epoch), 5 after.
      await waitFor('all events', () => seqs().length >= 13);
      expect(seqs()).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      expect(JSON.parse(out.trim().split('\n')[7]!)).toMatchObject({ seq: 8, entity: '*', condition: 'takeover', epoch: s.ham.epoch + 1 });
    } finally {
      follower.kill('SIGKILL');
    }
  });
});

describe('pid entities', () => {
  it('attach --pid adopts a running process; its death is seen (status unknown: not our child)', async () => {
    const outside = spawn('perl', ['-e', 'sleep 100000', `${t.home}/outside`], { stdio: 'ignore', detached: true });
    try {
      const e = await hamJson<{ kind: string; pid: number; state: string }>(t.home, ['attach', 'ext', '--pid', String(outside.pid)]);
      expect(e).toMatchObject({ kind: 'pid', pid: outside.pid, state: 'running' });
      process.kill(outside.pid!, 'SIGKILL');
      const s = await waitStatus(t.home, 'ext dead', (x) => x.entities.find((y) => y.name === 'ext')?.state === 'dead');
      expect(s.entities.find((y) => y.name === 'ext')).toMatchObject({ deaths: 1, lastExit: { code: null, signal: null } });
    } finally {
      outside.kill('SIGKILL');
    }
  });

  it('a pid that does not exist is refused', async () => {
    const r = await ham(t.home, ['attach', 'ghost', '--pid', '999999999']);
    expect(r.stderr).toMatch(/attach\.pid: expected a running process, got 999999999 \(no such process\)/);
  });
});

describe('the pair in the events', () => {
  it('a start, a stop and a start again are events on *, each with its epoch', async () => {
    const first = await hamJson<{ ham: { pid: number; epoch: number } }>(t.home, ['status']);
    await hamJson(t.home, ['stop']);
    const again = await hamJson<{ ham: { pid: number; epoch: number } }>(t.home, ['start', ...CALM]);
    const r = await ham(t.home, ['events', '--json']);
    const pair = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { entity: string; condition: string; epoch?: number; pid?: number })
      .filter((e) => e.entity === '*');
    expect(pair.map(({ condition, epoch, pid }) => ({ condition, epoch, pid }))).toEqual([
      { condition: 'pair-start', epoch: first.ham.epoch, pid: first.ham.pid },
      { condition: 'pair-stop', epoch: first.ham.epoch, pid: first.ham.pid },
      { condition: 'pair-start', epoch: again.ham.epoch, pid: again.ham.pid },
    ]);
    expect(again.ham.epoch).toBe(first.ham.epoch + 1);
  });
});
