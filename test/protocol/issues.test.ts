// Paths in validation issues: one line, unambiguous, and bounded (a huge key
// in a file must not make every issue under it huge).
import { describe, expect, it } from 'vitest';
import { pathText } from '../../src/protocol/issues.js';

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
