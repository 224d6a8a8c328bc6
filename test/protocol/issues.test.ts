// Paths in validation issues: one line, unambiguous, and bounded (a huge key
// in a file must not make every issue under it huge).
import { describe, expect, it } from 'vitest';
import { issuesError, pathText } from '../../src/protocol/issues.js';

describe('pathText', () => {
  it('reads plainly, quotes odd keys, indexes arrays', () => {
    expect(pathText(['entities', 'web', 'conditions', 'died', 'actions', 1, 'kind'])).toBe('entities.web.conditions.died.actions[1].kind');
    expect(pathText(['entities', 'a b', 'command'])).toBe('entities["a b"].command');
  });

  it('cuts a key past 128 characters, saying how long it was', () => {
    const text = pathText(['entities', 'x'.repeat(200_000), 'conditions', 'c']);
    expect(text.length).toBeLessThan(200);
    expect(text).toContain('…(200000 characters)');
    expect(text.endsWith('.conditions.c')).toBe(true);
  });
});

describe('issuesError', () => {
  it('says one problem repeated in many entities once, naming them; the data keeps every issue', () => {
    const same = Array.from({ length: 100 }, (_, i) => ({ path: `entities.s${i + 1}.restart`, expected: 'expected object', got: 'boolean true' }));
    const other = { path: 'entities.s7.command', expected: 'expected array', got: '"x"' };
    const e = issuesError([...same.slice(0, 50), other, ...same.slice(50)], { max: 200, head: 'in the configuration' });
    expect(e.message.split('\n')).toEqual([
      '101 problems in the configuration:',
      'entities.*.restart (in 100 entities: s1, s2, s3, s4, … s100): expected object, got boolean true',
      'entities.s7.command: expected array, got "x"',
    ]);
    expect(e.issues).toHaveLength(101);
  });

  it('lists two alike problems as they are', () => {
    const e = issuesError(
      [
        { path: 'entities.a.nice', expected: 'expected -20..19', got: '99' },
        { path: 'entities.b.nice', expected: 'expected -20..19', got: '99' },
      ],
      { max: 10, head: 'in the configuration' },
    );
    expect(e.message.split('\n').slice(1)).toEqual(['entities.a.nice: expected -20..19, got 99', 'entities.b.nice: expected -20..19, got 99']);
  });
});
