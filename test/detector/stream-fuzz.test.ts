// Fuzzing a stream detector end to end: a real detector prints generated
// lines (binary, huge, half JSON, valid-looking with wrong types, unknown
// entities, good events) and the HAM keeps its pid and epoch, publishes
// exactly the good events, and counts every bad line in `ham detectors`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_LINE, parseLine } from '../../src/detector/stream.js';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { hamJson, ham, request, status, tempHome, waitFor, type TestEvent, type TestHome } from '../helpers/ham.js';

const SEED = Number(process.env.HAM_FUZZ_SEED ?? 20261201);
const KNOWN = ['web', 'db'];

const text = fc.string({ minLength: 1, maxLength: 40 });
const good = fc.oneof(
  fc.record(
    { entity: fc.constantFrom(...KNOWN), raise: fc.record({ type: text, class: text, severity: fc.integer({ min: -9, max: 9 }) }, { requiredKeys: ['type'] }) },
    { requiredKeys: ['raise'] },
  ),
  fc.record({ entity: fc.constantFrom(...KNOWN), state: text }),
);
const wrong = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}), fc.constant(''), fc.double());
const line = fc.oneof(
  { weight: 4, arbitrary: good.map((e) => JSON.stringify(e)) },
  { weight: 2, arbitrary: good.map((e) => JSON.stringify(e).slice(0, -3)) }, // half JSON
  { weight: 2, arbitrary: fc.tuple(good, fc.constantFrom('entity', 'raise', 'state', 'detail'), wrong).map(([e, k, v]) => JSON.stringify({ ...e, [k]: v })) },
  { weight: 1, arbitrary: fc.tuple(good, fc.stringMatching(/^ghost-[a-z]{1,8}$/)).map(([e, g]) => JSON.stringify({ ...e, entity: g })) }, // unknown entity
  { weight: 1, arbitrary: fc.string({ maxLength: 100 }).map((s) => s.replace(/\n/g, ' ')) },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_LINE + 1, max: 4 * MAX_LINE }).map((n) => `{"state":"${'x'.repeat(n)}"}`) }, // huge
);
/** Binary: invalid UTF-8 that never holds a newline; starts with 0xff so it cannot be JSON. */
const binary = fc.uint8Array({ minLength: 1, maxLength: 500 }).map((b) => Buffer.concat([Buffer.from([0xff]), Buffer.from(b.map((x) => (x === 10 ? 0 : x)))]));

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe('stream detector printing fuzzed lines', () => {
  it('the HAM keeps its pid and epoch, publishes exactly the good events and counts every bad line', async () => {
    const sample = fc.sample(
      fc.array(fc.oneof({ weight: 6, arbitrary: line.map((l) => Buffer.from(l, 'utf8')) }, { weight: 1, arbitrary: binary }), {
        minLength: 150,
        maxLength: 250,
      }),
      { seed: SEED, numRuns: 1 },
    )[0]!;
    // What the HAM should make of each line (as decoded from UTF-8, as it reads them).
    let goodCount = 0;
    let bad = 0;
    let huge = 0;
    let parsed = 0; // events, for a known entity or not (counted as runs)
    for (const b of sample) {
      const l = b.toString('utf8');
      if (l.trim() === '') continue;
      if (l.length > MAX_LINE) huge += 1;
      else {
        const p = parseLine(l);
        if ('event' in p) parsed += 1;
        if ('event' in p && KNOWN.includes(p.event.entity ?? 'web')) goodCount += 1;
        else bad += 1;
      }
    }
    const out = Buffer.concat([...sample.flatMap((b) => [b, Buffer.from('\n')]), Buffer.from('{"entity":"web","raise":{"type":"fuzz-end"}}\n')]);
    const file = join(t.home, 'lines.bin');
    writeFileSync(file, out);

    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    for (const n of KNOWN) await request(t.home, 'attach', { name: n });
    const before = await status(t.home);
    putDetector(t.home, 'fuzz', `#!/bin/sh\n# ham: kind=stream entity=web\ncat ${file}\nexec sleep 100000\n`);

    const isEnd = (e: TestEvent) => e.condition === 'raise' && (e.raise as { type?: string }).type === 'fuzz-end';
    const evs = await waitFor(
      'the last line published',
      async () => {
        const all = (await request<{ events: TestEvent[] }>(t.home, 'events', { since: before.lastSeq, limit: 10_000 })).events;
        return all.some(isEnd) ? all : undefined;
      },
      30_000,
    );
    const fromDetector = evs.filter((e) => (e.condition === 'raise' || e.condition === 'state') && !isEnd(e));
    expect(fromDetector).toHaveLength(goodCount);
    const d = await waitDetector(t.home, 'fuzz', 'every bad line counted', (x) => x.badLines >= bad, 20_000);
    expect(d).toMatchObject({ state: 'running', badLines: bad, dropped: huge, runs: parsed + 1 });
    if (bad > 0) expect(d.reason).toMatch(/^bad line: /);

    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(after.guardian.pid).toBe(before.guardian.pid);
    // The CLI shows the counts too.
    const cli = await ham(t.home, ['detectors']);
    expect(cli.code).toBe(0);
    if (bad > 0) expect(cli.stdout).toContain(`${bad} bad lines`);
  }, 90_000);
});
