// Env files and limit values as `apply` reads them (pure: no process started):
// the forms an operator writes (export, quotes, comments), the errors with their
// line, and limit values in each accepted shape; property tests for round trips.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEnvFile } from '../../src/ham/env-file.js';
import { limitProblem, parseLimit } from '../../src/ham/runas-limits.js';

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines with comments, blank lines, export, and each kind of quoting', () => {
    const text = [
      '# a comment',
      '',
      'A=1',
      'export B=two words ',
      "C='single $HOME \\n'",
      'D="double \\"q\\" \\n \\\\ \\$x"',
      'E = spaced # trailing comment',
      'F=',
      'G="multi',
      'line"',
      'H=#not-a-comment',
      '\r',
      'I=crlf\r',
    ].join('\n');
    expect(parseEnvFile(text)).toEqual({
      ok: true,
      env: { A: '1', B: 'two words', C: 'single $HOME \\n', D: 'double "q" \n \\ $x', E: 'spaced', F: '', G: 'multi\nline', H: '#not-a-comment', I: 'crlf' },
    });
  });

  it('names the line of what is wrong', () => {
    expect(parseEnvFile('A=1\nnot an assignment\n')).toMatchObject({ ok: false, line: 2, expected: expect.stringContaining('KEY=VALUE') });
    expect(parseEnvFile('1A=x')).toMatchObject({ ok: false, line: 1, expected: expect.stringContaining('variable name') });
    expect(parseEnvFile("A=1\nB='open")).toMatchObject({ ok: false, line: 2, expected: expect.stringContaining("closing '") });
    expect(parseEnvFile('A="open\nstill')).toMatchObject({ ok: false, line: 1, expected: expect.stringContaining('closing "') });
    expect(parseEnvFile('A="x" y')).toMatchObject({ ok: false, line: 1, expected: expect.stringContaining('after the quoted value') });
  });

  it('a single-quoted value of any text without a quote or newline reads back as written (property)', () => {
    const value = fc.string().filter((s) => !s.includes("'") && !s.includes('\n') && !s.includes('\r') && !s.includes('\0'));
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/), value, (k, v) => {
        expect(parseEnvFile(`${k}='${v}'\n`)).toEqual({ ok: true, env: { [k]: v } });
      }),
    );
  });
});

describe('limit values', () => {
  it('one number sets both, "unlimited", or soft and hard; soft above hard is refused', () => {
    expect(parseLimit(5)).toEqual({ soft: 5, hard: 5 });
    expect(parseLimit('unlimited')).toEqual({ soft: 'unlimited', hard: 'unlimited' });
    expect(parseLimit({ soft: 1, hard: 'unlimited' })).toEqual({ soft: 1, hard: 'unlimited' });
    expect(parseLimit({ soft: 'unlimited', hard: 3 })).toBe('expected soft ≤ hard');
    expect(parseLimit(-1)).toMatch(/whole number/);
    expect(parseLimit({ soft: 1 })).toMatch(/whole number/);
    expect(parseLimit({ soft: 1, hard: 2, max: 3 })).toMatch(/unexpected max/);
  });

  it('not root: nothing above the hard limit; root: nofile within the kernel bound', () => {
    const have = { nofile: { soft: 1024, hard: 4096 } as const };
    expect(limitProblem('nofile', { soft: 10, hard: 5000 }, have, false)).toMatchObject({ expected: expect.stringContaining("the HAM's hard limit (4096)") });
    expect(limitProblem('nofile', { soft: 10, hard: 4096 }, have, false)).toBeUndefined();
    expect(limitProblem('nofile', { soft: 10, hard: 5000 }, have, true)).toBeUndefined();
    expect(limitProblem('nofile', { soft: 'unlimited', hard: 'unlimited' }, have, true)).toMatchObject({ expected: expect.stringContaining('nr_open') });
  });
});
