// Recovery policy from `ham apply`: backoff that grows, restart intensity
// that escalates once and leaves the entity `failed`, `ham reset`, a
// schedule that survives a HAM SIGKILL, and graceful stop settings.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, pairOf } from '../helpers/entities.js';
import { applyConfig, CALM, ham, hamJson, lines, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const apply = (config: object): Promise<unknown> => applyConfig(t.home, config);

/** A program that appends its start time (ms) to FILE and exits 1 at once. */
const crasher = (file: string): string[] => ['sh', '-c', `date +%s%3N >> ${file}; exit 1`];
const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };

describe('recovery policy', () => {
  it('a crash loop backs off 0, 100, 200, 400 ms, escalates once after 4 restarts in the window and ends failed; ham reset brings it back', async () => {
    const starts = join(t.home, 'starts');
    const esc = join(t.home, 'escalated');
    await apply({
      entities: {
        loop: {
          command: crasher(starts),
          conditions: { died },
          restart: {
            backoff: { initialMs: 0, factor: 2, maxMs: 10_000, resetAfterMs: 60_000 },
            intensity: { max: 4, withinMs: 60_000 },
            escalate: [{ kind: 'execute', argv: ['sh', '-c', `echo "$HAM_ENTITY $HAM_CONDITION" >> ${esc}`] }],
          },
        },
      },
    });
    const s = await waitStatus(t.home, 'loop failed', (x) => entity(x, 'loop').state === 'failed');
    await waitFor('the escalation ran', () => lines(esc).length >= 1);
    const at = lines(starts).map(Number);
    // The first start and exactly 4 restarts: the policy's count, no slack.
    expect(at).toHaveLength(5);
    const gaps = at.slice(1).map((x, i) => x - at[i]!);
    expect(gaps[1]).toBeGreaterThanOrEqual(100 - 5);
    expect(gaps[2]).toBeGreaterThanOrEqual(200 - 5);
    expect(gaps[3]).toBeGreaterThanOrEqual(400 - 5);
    const e = entity(s, 'loop');
    expect(e).toMatchObject({ restarts: 4, deaths: 5, restart: { intensity: { max: 4, withinMs: 60_000 }, inWindow: 4 } });
    expect(e.lastError).toMatch(/restarted 4 times within 60000 ms: escalated and gave up/);
    expect(lines(esc)).toEqual(['loop escalate']);
    // Failed stays failed: nothing restarts it.
    const n = lines(starts).length;
    expect((await status(t.home)).entities.find((x) => x.name === 'loop')!.state).toBe('failed');
    expect(lines(starts).length).toBe(n);

    const r = await ham(t.home, ['reset', 'loop']);
    expect(r.code).toBe(0);
    await waitFor('a second escalation after the reset', () => lines(esc).length === 2);
    expect(lines(starts)).toHaveLength(10); // 5 more: the reset start and 4 restarts
    // Counters were cleared: the start by the reset and 4 policy restarts (the window counts only the latter).
    expect(entity(await status(t.home), 'loop')).toMatchObject({ state: 'failed', restarts: 5, deaths: 5, restart: { inWindow: 4 } });
  });

  it('the HAM SIGKILLed mid-backoff: the new HAM restarts at the same moment, counting nothing twice', async () => {
    const starts = join(t.home, 'starts');
    await apply({
      entities: {
        slow: {
          command: ['sh', '-c', `date +%s%3N >> ${starts}; sleep 0.2; exit 1`],
          conditions: { died },
          restart: { backoff: { initialMs: 2500, factor: 1, maxMs: 2500, resetAfterMs: 60_000 }, intensity: { max: 10, withinMs: 60_000 } },
        },
      },
    });
    const waiting = await waitStatus(t.home, 'a restart scheduled', (x) => entity(x, 'slow').restartAt !== null);
    const due = Date.parse(entity(waiting, 'slow').restartAt!);
    process.kill(waiting.ham.pid!, 'SIGKILL');
    const after = await waitStatus(t.home, 'taken over', (x) => x.ham.epoch > waiting.ham.epoch && !!pairOf(x));
    expect(entity(after, 'slow').restartAt).toBe(entity(waiting, 'slow').restartAt);
    await waitFor('the second start', () => lines(starts).length >= 2);
    expect(Number(lines(starts)[1])).toBeGreaterThanOrEqual(due - 5);
    const s = await waitStatus(t.home, 'restart counted', (x) => entity(x, 'slow').restarts >= 1);
    expect(entity(s, 'slow').restarts).toBe(1);
    expect(entity(s, 'slow').restart.inWindow).toBeLessThanOrEqual(2);
  });

  it('a stop policy: its own signal first, then SIGKILL of the group after its timeout', async () => {
    const hold = (marker: string, onInt: string): string[] => [
      'perl',
      '-e',
      `$SIG{TERM} = 'IGNORE'; $SIG{INT} = sub { ${onInt} }; open(my $f, '>', "$ARGV[0].armed") && close $f; sleep 1 while 1`,
      marker,
    ];
    await apply({
      entities: {
        polite: { command: hold(`${t.home}/polite`, 'exit 42'), stop: { signal: 'SIGINT', timeoutMs: 10_000 } },
        stubborn: { command: hold(`${t.home}/stubborn`, '1'), stop: { signal: 'SIGTERM', timeoutMs: 300 } },
      },
    });
    await waitStatus(t.home, 'both running', (x) => entity(x, 'polite').state === 'running' && entity(x, 'stubborn').state === 'running');
    await waitFor('both handlers set', () => existsSync(`${t.home}/polite.armed`) && existsSync(`${t.home}/stubborn.armed`));
    await hamJson(t.home, ['stop', '--all']);
    await hamJson(t.home, ['start', ...CALM]);
    const s = await status(t.home);
    expect(entity(s, 'polite').lastExit).toEqual({ code: 42, signal: null });
    expect(entity(s, 'stubborn').lastExit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(entity(s, 'stubborn').stop).toEqual({ signal: 'SIGTERM', timeoutMs: 300 });
  });

  it('bad policy fields are named with their path; nothing changes', async () => {
    const file = join(t.home, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        entities: {
          a: {
            command: ['sleep', '1000'],
            restart: { backoff: { factor: 0, maxMs: 10, initialMs: 100 }, escalate: [{ kind: 'reboot' }] },
            stop: { signal: 'SIGFOO' },
          },
        },
      }),
    );
    const out = await ham(t.home, ['apply', '-f', file]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('entities.a.restart.backoff.factor: Number must be greater than or equal to 1, got number 0');
    expect(out.stderr).toContain('entities.a.restart.backoff.maxMs: expected maxMs ≥ initialMs');
    expect(out.stderr).toContain('entities.a.stop.signal: expected a signal name such as SIGTERM, got "SIGFOO"');
    expect((await status(t.home)).entities).toEqual([]);
  });
});
