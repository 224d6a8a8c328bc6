// Fuzzing a stream detector's output, in-process: whatever a detector prints,
// parseLine never throws, accepts exactly the well-formed events, and for
// anything else names what is wrong; the line splitter yields the same lines
// however the bytes are chunked and never one longer than MAX_LINE.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter, MAX_LINE, parseLine } from '../../src/detector/stream.js';
import { backoffMs } from '../../src/detector/stream-loop.js';

const SEED = Number(process.env.HAM_FUZZ_SEED ?? 20261201);
const runs = (n: number) => ({ numRuns: Number(process.env.HAM_FUZZ_RUNS ?? n), seed: SEED });

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const text = fc.string({ minLength: 1, maxLength: 128 });
/** A well-formed event, as a detector would print it. */
const goodEvent = fc.oneof(
  fc.record(
    { entity: name, raise: fc.record({ type: text, class: text, severity: fc.integer() }, { requiredKeys: ['type'] }), detail: fc.string({ maxLength: 1024 }) },
    { requiredKeys: ['raise'] },
  ),
  fc.record({ entity: name, state: text, detail: fc.string({ maxLength: 1024 }) }, { requiredKeys: ['state'] }),
);
const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 3 }).map((s) => [s]),
  fc.constant({}),
  fc.string({ minLength: 200, maxLength: 300 }),
  fc.constant(''),
);
const garbage = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('utf8')),
  goodEvent.map((e) => JSON.stringify(e).slice(0, -1)), // half JSON
  fc.nat({ max: 5000 }).map((d) => '['.repeat(d) + ']'.repeat(d)), // deep nesting
  fc.nat({ max: 5000 }).map((d) => '{"raise":'.repeat(d) + '1' + '}'.repeat(d)),
  fc.constantFrom(
    '{"__proto__":{"raise":{"type":"x"}}}',
    '{"raise":{"type":"x"},"state":"y"}',
    '{"entity":"*","state":"x"}',
    '{"entity":"a/b","state":"x"}',
    '{"constructor":{}}',
    'null',
    '"str"',
    '1e400',
    '{}',
    '[]',
  ),
);

describe('parseLine (stream detector output)', () => {
  it('accepts every well-formed event as it came', () => {
    fc.assert(
      fc.property(goodEvent, (e) => {
        const r = parseLine(JSON.stringify(e));
        expect(r).toEqual({ event: e });
      }),
      runs(500),
    );
  });

  it('never throws on garbage, and an error is a bounded, non-empty message', () => {
    fc.assert(
      fc.property(garbage, (line) => {
        const r = parseLine(line);
        if ('error' in r) {
          expect(r.error.length).toBeGreaterThan(0);
          expect(r.error.length).toBeLessThanOrEqual(400);
        } else expect(r.event).toSatisfy((e: object) => 'raise' in e !== 'state' in e);
      }),
      runs(1000),
    );
  });

  it('a well-formed event with one field of the wrong type or an unknown field is refused, naming that field', () => {
    const mutation = fc.oneof(
      fc.tuple(fc.constantFrom('raise.type', 'raise.class', 'raise.severity', 'entity', 'detail'), wrongValue),
      fc.tuple(fc.constantFrom('state', 'entity', 'detail'), wrongValue),
      fc.tuple(fc.constantFrom('bogus', 'raise.bogus', 'Entity'), fc.jsonValue()),
    );
    fc.assert(
      fc.property(goodEvent, mutation, (e, [path, value]) => {
        const kind = 'raise' in e ? 'raise' : 'state';
        if (path.startsWith('raise') !== (kind === 'raise') && path !== 'bogus' && path !== 'Entity' && !['entity', 'detail'].includes(path)) return; // not this shape's field
        const ev = JSON.parse(JSON.stringify(e)) as Record<string, Record<string, unknown>>;
        const [a, b] = path.split('.') as [string, string | undefined];
        if (b === undefined) (ev as Record<string, unknown>)[a] = value;
        else ev[a]![b] = value;
        // Some "wrong" values are right for some fields (a string for detail, any string for a state).
        const stillValid =
          (path === 'detail' && typeof value === 'string' && value.length <= 1024) ||
          ((path === 'state' || path === 'raise.type' || path === 'raise.class') && typeof value === 'string' && value.length >= 1 && value.length <= 128) ||
          (path === 'raise.severity' && Number.isInteger(value)) ||
          (path === 'entity' && typeof value === 'string' && /^[^/\u0000-\u001f\u007f]{1,128}$/.test(value) && value !== '.' && value !== '..');
        const r = parseLine(JSON.stringify(ev));
        if (stillValid) return void expect(r).toHaveProperty('event');
        expect(r).toHaveProperty('error');
        const err = (r as { error: string }).error;
        if (path === 'bogus' || path === 'Entity') expect(err).toContain(`line.${path}: unexpected field`);
        else if (path === 'raise.bogus') expect(err).toContain('line.raise.bogus: unexpected field');
        else expect(err).toContain(`line.${path}:`);
      }),
      runs(1000),
    );
  });
});

describe('LineSplitter', () => {
  /** Lines as the splitter should see them: split at newlines, blank ones skipped, over-long ones dropped. */
  const expected = (input: string): { lines: string[]; tooLong: number } => {
    const parts = input.split('\n');
    const complete = parts.slice(0, -1); // the last part has no newline yet (or is empty)
    const tail = parts[parts.length - 1]!;
    const long = complete.filter((l) => l.length > MAX_LINE).length + (tail.length > MAX_LINE ? 1 : 0);
    return { lines: complete.filter((l) => l.length <= MAX_LINE && l.trim() !== ''), tooLong: long };
  };

  it('yields the same lines however the bytes are chunked, none longer than MAX_LINE', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constant('\n'),
      fc.constant('\n\n'),
      fc.nat({ max: 3 * MAX_LINE }).map((n) => 'x'.repeat(n)),
      fc.string({ unit: 'binary', maxLength: 30 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.array(fc.nat({ max: 5000 }), { maxLength: 20 }), (pieces, cuts) => {
        const input = pieces.join('');
        const at = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let from = 0;
        for (const c of at) {
          chunks.push(input.slice(from, c));
          from = c;
        }
        chunks.push(input.slice(from));
        const s = new LineSplitter();
        const got: string[] = [];
        for (const c of chunks) s.push(c, (l) => got.push(l));
        const want = expected(input);
        expect(got).toEqual(want.lines);
        expect(got.every((l) => l.length <= MAX_LINE)).toBe(true);
        expect(s.tooLong).toBe(want.tooLong);
      }),
      runs(500),
    );
  });
});

describe('stream backoff', () => {
  it('a stream is started again 100 ms after its first end, doubling at each end in a row, at most 30 s', () => {
    expect([0, 1, 2, 3, 4, 8, 9, 20, 1000].map(backoffMs)).toEqual([100, 200, 400, 800, 1600, 25_600, 30_000, 30_000, 30_000]);
  });
});
