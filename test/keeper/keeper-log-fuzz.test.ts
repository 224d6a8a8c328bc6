// Whatever bytes an entity writes, both keepers store them the same, exact,
// way: random byte strings (newlines, backslashes, control bytes, valid and
// broken UTF-8, lines past the cut) through a real keeper, against a model of
// the format (README "Output"). Also the reader's parse of what is stored.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLogLine } from '../../src/logs/line.js';
import { LogWriter } from '../../src/logs/writer.js';
import { KEEPER_BINARY, KEEPER_SCRIPT } from '../../src/paths.js';
import { killAll, waitFor } from '../helpers/ham.js';

const CUT = 16384;

/** The length of a UTF-8 sequence at b[i] as the keepers judge it (0: not one). */
function utf8Len(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len === 0 || i + len > b.length) return 0;
  for (let k = 1; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const d = b[i + 1]!;
  if (len === 3 && ((c === 0xe0 && d < 0xa0) || (c === 0xed && d >= 0xa0))) return 0;
  if (len === 4 && ((c === 0xf0 && d < 0x90) || (c === 0xf4 && d >= 0x90))) return 0;
  return len;
}

/** A line's bytes as stored: the model of the escaping. */
function escaped(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const l = c >= 0x80 ? utf8Len(b, i) : 0;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) out += String.fromCharCode(c);
    else if (l) out += Buffer.from(b.subarray(i, i + l)).toString('utf8');
    else out += c === 0x5c ? '\\\\' : c === 9 ? '\\t' : c === 13 ? '\\r' : `\\x${c.toString(16).padStart(2, '0')}`;
    i += l || 1;
  }
  return out;
}

/** What the stored lines should say for `data` written at once, then the command's end. */
function model(data: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    const end = i === data.length;
    if (!end && data[i] !== 10 && i - start < CUT) continue;
    if (!end && data[i] !== 10) {
      out.push(`${escaped(data.subarray(start, i))} [ham: line cut at ${CUT} bytes]`);
      start = i;
      i--; // this byte starts the next piece
      continue;
    }
    if (!end || i > start) out.push(escaped(data.subarray(start, i)));
    start = i + 1;
  }
  return out;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-klog-fuzz-'));
});
afterAll(() => {
  killAll(dir);
  rmSync(dir, { recursive: true, force: true });
});

const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc
    .array(
      fc.constantFrom(0x0a, 0x5c, 0x09, 0x0d, 0x00, 0x7f, 0x80, 0xc0, 0xc3, 0xa9, 0xe0, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0xf4, 0xf5, 0xff, 0xed, 0xa0, 0x41),
      { maxLength: 400 },
    )
    .map((a) => Uint8Array.from(a)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Uint8Array.from(Buffer.from(s))),
  fc
    .tuple(fc.integer({ min: CUT - 3, max: CUT + 5 }), fc.constantFrom(0x41, 0xc3, 0x0a))
    .map(([n, b]) => Uint8Array.from({ length: n }, (_, i) => (i === n - 1 ? b : 0x61))),
);

describe.each([
  ['the C keeper', [KEEPER_BINARY]],
  ['keeper.pl', ['perl', KEEPER_SCRIPT]],
])('%s', (_name, [bin, ...pre]) => {
  it('stores any bytes exactly as the format says, and the reader parses every line back', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(bytes, async (data) => {
        const at = join(dir, `${_name.length}-${run++}`);
        const [inbox, kdir, logDir] = ['inbox', 'k', 'log'].map((d) => join(at, d)) as [string, string, string];
        mkdirSync(inbox, { recursive: true });
        mkdirSync(kdir);
        const hex = Buffer.from(data).toString('hex');
        const k = spawn(bin!, [...pre, kdir, inbox, 't', 'start', '--', 'perl', '-e', 'binmode STDOUT; print pack("H*", $ARGV[0])', hex, dir], {
          stdio: 'ignore',
          detached: true,
          env: { ...process.env, HAM_LOG_DIR: logDir, HAM_INSTANCE: '7', HAM_KEEPER_ALONE_MS: '100' },
        });
        try {
          await waitFor('the death', () => readdirSync(inbox).includes('t-4'));
          const file = join(logDir, 'current');
          const stored = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
          const got = stored.map((l) => l.replace(/^\S+ out 7 /, ''));
          const want = model(data);
          // The first difference, briefly (a 16 KiB line printed whole helps nobody).
          const at = got.findIndex((g, i) => g !== want[i]);
          const short = (x: string | undefined): string =>
            x === undefined ? '(none)' : x.length > 120 ? `${x.slice(0, 60)}…(${x.length})…${x.slice(-60)}` : x;
          if (at >= 0 || got.length !== want.length)
            throw new Error(`line ${at}: got ${short(got[at])}, expected ${short(want[at])} (${got.length} lines, expected ${want.length})`);
          for (const l of stored) expect(parseLogLine('e', l)).toMatchObject({ stream: 'stdout', instance: 7 });
        } finally {
          if (k.pid) process.kill(k.pid, 'SIGKILL');
        }
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});

describe('the Node writer (execute actions)', () => {
  it('stores any bytes as the keepers do, however they are split into writes', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(bytes, fc.array(fc.nat(), { maxLength: 5 }), async (data, cuts) => {
        const logDir = join(dir, `node-${run++}`);
        const w = new LogWriter(logDir, { maxBytes: 1 << 30, keep: 1 }, 7);
        let at = 0;
        for (const c of [...cuts.map((x) => x % (data.length + 1)).sort((a, b) => a - b), data.length]) {
          w.write(0, Buffer.from(data.subarray(at, c)));
          at = Math.max(at, c);
        }
        await w.end(); // written off the loop: all of it once this resolves
        const file = join(logDir, 'current');
        const stored = existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(0, -1) : [];
        expect(stored.map((l) => l.replace(/^\S+ out 7 /, ''))).toEqual(model(data));
      }),
      { numRuns: 300 },
    );
  });
});
