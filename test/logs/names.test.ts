// An entity's log folder name (src/model/log-names.ts): one safe path
// component for any entity name, never one of ham's own files in logs/, and
// the name read back from it exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entityOfLogFolder, logFolderName } from '../../src/model/log-names.js';
import { parseSince } from '../../src/cli/logs.js';
import { formatLogLine, parseLogLine } from '../../src/logs/line.js';

const names = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.array(fc.constantFrom('.', '%', '/', '2', 'E', 'F', '5', 'l', 'o', 'g', 'a'), { minLength: 1, maxLength: 12 }).map((a) => a.join('')),
);

describe('log folder names', () => {
  it('any name (an action\'s ENTITY/CONDITION too): one component, not "." or "..", not a *.log file of ham, and read back exactly', () => {
    fc.assert(
      fc.property(names, (name) => {
        const f = logFolderName(name);
        expect(f).not.toContain('/');
        expect(f.startsWith('.')).toBe(false);
        expect(f.endsWith('.log')).toBe(false);
        expect(entityOfLogFolder(f)).toBe(name);
      }),
      { numRuns: 2000 },
    );
    expect(['.', '..', 'ham.log', '50%', 'web/died'].map(logFolderName)).toEqual(['%2E', '%2E.', 'ham%2Elog', '50%25', 'web%2Fdied']);
  });
});

describe('log lines', () => {
  it('parses what the keeper writes, undoing its \\\\, \\t and \\r and keeping \\xNN; refuses other shapes', () => {
    expect(parseLogLine('w', '2026-12-01T18:46:03.123Z err 3 a\\tb\\\\c\\x01 é')).toEqual({
      time: '2026-12-01T18:46:03.123Z',
      entity: 'w',
      stream: 'stderr',
      instance: 3,
      line: 'a\tb\\c\\x01 é',
    });
    expect(parseLogLine('w', '2026-12-01T18:46:03.123Z ham 0 [ham: 3 lines dropped]')?.stream).toBe('ham');
    for (const bad of ['', 'n 0000012', '2026-12-01T18:46:03.123Z bad 1 x', '2026-12-01T18:46:03Z out 1 x', '2026-12-01T18:46:03.123Z out x y'])
      expect(parseLogLine('w', bad)).toBeUndefined();
    const l = parseLogLine('w', '2026-12-01T18:46:03.123Z out 2 hi')!;
    expect(formatLogLine(l, false)).toBe('2026-12-01T18:46:03.123Z out 2 hi');
    expect(formatLogLine(l, true)).toBe('w | 2026-12-01T18:46:03.123Z out 2 hi');
  });

  it('--since: a time, a date or an age; anything else is a clear error', () => {
    const now = Date.parse('2026-12-01T12:00:00.000Z');
    expect(parseSince('10m', now)).toBe('2026-12-01T11:50:00.000Z');
    expect(parseSince('1d', now)).toBe('2026-11-30T12:00:00.000Z');
    expect(parseSince('2026-12-01T10:00:00Z', now)).toBe('2026-12-01T10:00:00.000Z');
    expect(parseSince('2026-12-01', now)).toBe('2026-12-01T00:00:00.000Z');
    for (const bad of ['yesterday', '10', '5 min', '-1h', '']) expect(() => parseSince(bad, now)).toThrow(/--since: expected a time/);
  });
});
