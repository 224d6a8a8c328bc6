// A long resume is not a hang (review finding): a HAM resumes every entity in
// one synchronous turn (ten thousand: seconds on a loaded machine), and on
// `ham start` its Guardian is spawned first, so it judged that silence a hang
// and took over from a healthy HAM. The resume now beats through the store.
// With 10,000 placeholders and the default hang threshold (1000 ms): a start
// makes no takeover, a HAM SIGKILL exactly one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyConfig, hamJson, request, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

const N = 10_000;
const HANG_MS = 1000; // the default: the point is the threshold a user gets
/** How long a pair is watched for a takeover that should not come: a few of the Guardian's judgements. */
const WATCH_MS = 4 * HANG_MS;

interface Ping {
  pid: number;
  epoch: number;
  ham: { pid: number | null; epoch: number; failures: number };
  guardian: { pid: number | null; failures: number };
}

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', String(HANG_MS)]);
  const entities: Record<string, object> = {};
  for (let i = 0; i < N; i++) entities[`p${i}`] = { placeholder: true };
  await applyConfig(t.home, { entities });
}, 120_000);
afterAll((suite) => t.cleanup({ task: suite }));

const ping = (): Promise<Ping> => request<Ping>(t.home, 'ping', {});
const takeovers = (): number => readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').split('"msg":"took over the HAM role"').length - 1;

/** A whole pair whose Guardian said it is ready, then watched for WATCH_MS after that: the same pair all along. */
async function stablePair(ok: (p: Ping) => boolean): Promise<Ping> {
  const first = await waitFor(
    'a whole pair',
    async () => {
      const p = await ping().catch(() => undefined);
      return p && p.guardian.pid !== null && ok(p) ? p : undefined;
    },
    90_000,
  );
  const since = Date.now();
  await waitFor(
    `the pair watched for ${WATCH_MS} ms`,
    async () => {
      const p = await ping().catch(() => undefined);
      if (p && (p.pid !== first.pid || p.guardian.pid !== first.guardian.pid)) throw new Error(`the pair changed: ${JSON.stringify({ first, now: p })}`);
      return Date.now() - since > WATCH_MS && p;
    },
    60_000,
    100,
  );
  return first;
}

describe(`a long resume (${N} placeholders) is not a hang`, () => {
  it('ham start on the big store: its Guardian, spawned first, does not take over', async () => {
    await hamJson(t.home, ['stop']);
    const before = takeovers();
    const started = await hamJson<{ ham: { pid: number; epoch: number } }>(t.home, ['start', '--hang-ms', String(HANG_MS)]);
    const p = await stablePair(() => true);
    expect(p.pid).toBe(started.ham.pid);
    expect(p.epoch).toBe(started.ham.epoch);
    expect(takeovers()).toBe(before);
  }, 180_000);

  it('a HAM SIGKILL: exactly one takeover, no second (the new HAM resumes, then its new Guardian judges it)', async () => {
    const before = await stablePair(() => true);
    const count = takeovers();
    process.kill(before.pid, 'SIGKILL');
    const after = await stablePair((p) => p.epoch > before.epoch);
    expect(after.pid).toBe(before.guardian.pid);
    expect(after.epoch).toBe(before.epoch + 1);
    expect(takeovers()).toBe(count + 1);
  }, 180_000);
});
