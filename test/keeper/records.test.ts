// What the HAM reads from keepers, as pure logic (and one file each of the
// kinds the inbox may hold): a record is accepted only as a keeper writes it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { judge, MAX_AHEAD, MAX_RECORD_BYTES, parseName, parseRecord, readRecordFile, type KeeperRecord } from '../../src/keeper/records.js';

/** A record as keeper.pl prints it. */
const text = (r: KeeperRecord): string =>
  r.kind === 'X' ? `X ${r.pid} ${r.status}${r.ordered ? ' o' : ''}\n` : r.kind === 'F' ? `F ${r.errno}\n` : `${r.kind} ${r.pid}\n`;
const pid = fc.integer({ min: 1, max: 4_194_304 });
const record: fc.Arbitrary<KeeperRecord> = fc.oneof(
  fc.record({ kind: fc.constantFrom('K' as const, 'P' as const, 'S' as const), pid }),
  fc.record({ kind: fc.constant('F' as const), errno: fc.integer({ min: 0, max: 4095 }) }),
  fc.record({ kind: fc.constant('X' as const), pid, status: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffff })) }),
  // Restarted by its standing order: only a death whose status is known.
  fc.record({ kind: fc.constant('X' as const), pid, status: fc.integer({ min: 0, max: 0xffff }), ordered: fc.constant(true as const) }),
);

describe('parseRecord', () => {
  it('reads back every record a keeper writes', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(parseRecord(text(r))).toEqual(r);
      }),
    );
  });

  it('never throws, and accepts only what it would write back the same', () => {
    const junk = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'binary', maxLength: 80 }),
      record.map(text).chain((t) => fc.nat(t.length).map((n) => t.slice(0, n) + t.slice(n + 1))),
    );
    fc.assert(
      fc.property(junk, (s) => {
        const r = parseRecord(s);
        if (r) expect(text(r).trimEnd()).toBe(s.trimEnd().replace(/ 0+(\d)/g, ' $1'));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['', 'empty'],
    ['K', 'truncated'],
    ['X 12', 'truncated: no status'],
    ['K 1e3', 'not a decimal'],
    ['K 1.5', 'not an integer'],
    ['S -3', 'negative pid'],
    ['P 0', 'pid 0'],
    ['K 99999999', 'beyond pid_max'],
    ['F 99999', 'beyond any errno'],
    ['X 5 70000', 'beyond a wait status'],
    ['S 5 6', 'extra field'],
    ['k 5', 'unknown kind'],
    ['K  5', 'two spaces'],
    ['K 5\nK 6\n', 'two records'],
    ['Z 5', 'unknown kind'],
    ['S 5 o', 'an order flag on a start'],
    ['X 5 -1 o', 'an ordered restart of an unknown death'],
    ['X 5 9 x', 'an unknown flag'],
  ])('%j is refused (%s)', (s) => {
    expect(parseRecord(s)).toBeNull();
  });
});

describe('parseName', () => {
  it('reads ID-SERIAL-SEQ as a keeper names it, and knows its files being written', () => {
    expect(parseName('3-2-17')).toEqual({ id: 3, serial: 2, seq: 17 });
    expect(parseName('0-1-1')).toEqual({ id: 0, serial: 1, seq: 1 });
    expect(parseName('.3-2-17')).toBe('temp');
  });

  it.each(['03-2-17', '3-02-1', '3-2-0', '3-0-1', '3-2', '3-2-1-4', 'x-1-1', '1-1-1 ', '99999999999999999-1-1', 'garbage', '', '-1-1-1'])(
    '%j is not a record name',
    (n) => {
      expect(parseName(n)).toBeNull();
    },
  );
});

describe('judge', () => {
  const n = (seq: number, serial = 2) => ({ id: 1, serial, seq });
  const k = { serial: 2, lastSeq: 5 };
  it('applies only the next record of the current keeper; one a little ahead waits', () => {
    expect(judge(n(6), k, true)).toBe('apply');
    expect(judge(n(7), k, true)).toBe('later');
    expect(judge(n(5 + MAX_AHEAD), k, true)).toBe('later');
  });
  it('drops what no current keeper will ever follow, saying why', () => {
    expect(judge(n(6), k, false)).toEqual({ drop: 'no entity with id 1' });
    expect(judge(n(6), null, true)).toEqual({ drop: expect.stringContaining('no keeper') });
    expect(judge(n(6, 3), k, true)).toEqual({ drop: expect.stringContaining('keeper 3') });
    expect(judge(n(5), k, true)).toEqual({ drop: expect.stringContaining('already applied') });
    expect(judge(n(6 + MAX_AHEAD), k, true)).toEqual({ drop: expect.stringContaining('ahead') });
  });
});

describe('readRecordFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ham-records-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a record file; refuses, without blocking or following, what is not one', () => {
    const f = (name: string, content: string | Buffer): string => {
      writeFileSync(join(dir, name), content);
      return join(dir, name);
    };
    expect(readRecordFile(f('good', 'X 42 256\n'))).toEqual({ record: { kind: 'X', pid: 42, status: 256 } });
    expect(readRecordFile(join(dir, 'missing'))).toEqual({ gone: true });
    expect(readRecordFile(f('big', 'K 1\n'.padEnd(MAX_RECORD_BYTES + 1, ' ')))).toEqual({ bad: expect.stringContaining('bytes') });
    expect(readRecordFile(f('bin', Buffer.from([0, 255, 10])))).toEqual({ bad: expect.stringContaining('not a keeper record') });
    expect(readRecordFile(f('empty', ''))).toEqual({ bad: expect.stringContaining('not a keeper record') });
    mkdirSync(join(dir, 'dir'));
    expect(readRecordFile(join(dir, 'dir'))).toEqual({ bad: 'a directory' });
    symlinkSync('/dev/zero', join(dir, 'link'));
    expect(readRecordFile(join(dir, 'link'))).toEqual({ bad: 'a symbolic link' });
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(readRecordFile(join(dir, 'fifo'))).toEqual({ bad: 'not a regular file' }); // and it returned: no writer needed
  });
});
