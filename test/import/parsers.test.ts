// The parsers under `ham import`, each against its tool's own rules: Python's
// shlex (supervisord's command=), systemd's command lines and time spans,
// supervisord's %(name)s expansions and environment= pairs, the INI readers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shlexSplit } from '../../src/import/shlex.js';
import { specifiers, substitute, systemdWords, timeSpanMs } from '../../src/import/systemd-words.js';
import { expandPercent, keyValuePairs } from '../../src/import/expand.js';
import { readIni } from '../../src/import/ini.js';
import { HamError } from '../../src/model/errors.js';

const words = (t: string) => {
  const r = systemdWords(t);
  if ('error' in r) throw new Error(r.error);
  return r.words;
};

describe('shlex (supervisord command=)', () => {
  it('splits as Python shlex.split does', () => {
    expect(shlexSplit(`/bin/sh -c 'echo "a b"; exit 3'`)).toEqual({ words: ['/bin/sh', '-c', 'echo "a b"; exit 3'] });
    expect(shlexSplit(`prog "x \\"y\\" \\$z" a\\ b '' ""`)).toEqual({ words: ['prog', 'x "y" \\$z', 'a b', '', ''] });
    expect(shlexSplit('  a\tb  ')).toEqual({ words: ['a', 'b'] });
    expect(shlexSplit(`a 'b`)).toEqual({ error: 'no closing quotation' });
    expect(shlexSplit(`a "b`)).toEqual({ error: 'no closing quotation' });
  });
});

describe('systemd command lines', () => {
  it('quotes, C escapes, and $VAR / ${VAR} as systemd substitutes them', () => {
    const env = { PORT: '8080', ARGS: '--a  --b' };
    const unset = new Set<string>();
    expect(substitute(words(`web --port=\${PORT} $ARGS "two words" 'x\\ty' \\x41 $$HOME $NOPE`), env, unset)).toEqual([
      'web',
      '--port=8080',
      '--a',
      '--b',
      'two words',
      'x\ty',
      'A',
      '$HOME',
    ]);
    expect([...unset]).toEqual(['NOPE']);
    expect(substitute(words(`echo "$ARGS" \\$PORT`), env, new Set())).toEqual(['echo', '$ARGS', '$PORT']);
    expect(systemdWords(`a "b`)).toEqual({ error: 'no closing "' });
    expect(systemdWords(`a \\q`)).toEqual({ error: 'an unknown escape \\q' });
  });

  it('resolves the unit specifiers it can, names the others', () => {
    const unknown = new Set<string>();
    expect(specifiers('%n %N %p %i 100%% %h', 'getty@tty1.service', unknown)).toBe('getty@tty1.service getty@tty1 getty tty1 100% %h');
    expect([...unknown]).toEqual(['%h']);
  });

  it('reads time spans', () => {
    expect(timeSpanMs('90')).toBe(90_000);
    expect(timeSpanMs('1min 30s')).toBe(90_000);
    expect(timeSpanMs('500ms')).toBe(500);
    expect(timeSpanMs('2h')).toBe(7_200_000);
    expect(timeSpanMs('infinity')).toBe(Infinity);
    expect(timeSpanMs('5 parsecs')).toBeUndefined();
    expect(timeSpanMs('')).toBeUndefined();
  });
});

describe('supervisord expansions and environment=', () => {
  it('expands %(name)s with Python format specs; an unknown name is left and named', () => {
    expect(expandPercent('%(program_name)s_%(process_num)02d %(x)s 50%%', { program_name: 'web', process_num: 3 })).toEqual({
      text: 'web_03 %(x)s 50%',
      unknown: ['x'],
    });
    expect(expandPercent('[%(n)5d|%(s)-4s]', { n: 42, s: 'ab' }).text).toBe('[   42|ab  ]');
  });

  it('reads KEY="val",KEY2=val2 with commas and = inside quotes', () => {
    expect(keyValuePairs(`A="1",B='x, y=z', C=plain ,D=""`)).toEqual({
      pairs: [
        ['A', '1'],
        ['B', 'x, y=z'],
        ['C', 'plain'],
        ['D', ''],
      ],
    });
    expect(keyValuePairs('A="1,B=2')).toHaveProperty('error');
    expect(keyValuePairs('novalue')).toHaveProperty('error');
  });
});

describe('INI readers', () => {
  it('supervisord: key = value or key: value, inline ; comments, indented continuation lines', () => {
    const s = readIni('; top\n[program:a]\ncommand = /bin/a ; a comment\nenvironment: A="1",\n  B="2"\n', 'f.conf', 'supervisord');
    expect(s).toEqual([
      {
        name: 'program:a',
        line: 2,
        entries: [
          { key: 'command', value: '/bin/a', line: 3 },
          { key: 'environment', value: 'A="1",\nB="2"', line: 4 },
        ],
      },
    ]);
  });

  it('systemd: a trailing backslash continues the line; repeated keys are kept in order', () => {
    const s = readIni('[Service]\n# c\nExecStart=/bin/a \\\n  --x\nEnvironment=A=1\nEnvironment=B=2\n', 'u.service', 'systemd');
    expect(s[0]!.entries.map((e) => [e.key, e.value, e.line])).toEqual([
      ['ExecStart', '/bin/a    --x', 3],
      ['Environment', 'A=1', 5],
      ['Environment', 'B=2', 6],
    ]);
  });

  it('a line that is not of the format is an error naming the file and the line', () => {
    const err = (() => {
      try {
        readIni('[Service]\nExecStart=/bin/a\nthis is not ini\n', 'u.service', 'systemd');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(HamError);
    expect((err as HamError).code).toBe('bad-request');
    expect((err as HamError).message).toBe('u.service:3: expected Key=Value or a [section], got "this is not ini"');
    expect(() => readIni('command=/bin/a\n', 'f.conf', 'supervisord')).toThrow('f.conf:1: expected a [section] header before "command=/bin/a"');
  });
});

describe('quoting round trips (any argv survives its tool quoting it)', () => {
  const argv = fc.array(
    fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replace(/\0/g, '')),
    { minLength: 1, maxLength: 6 },
  );

  it("shlex: Python's shlex.quote of each word, joined, splits back to the words", () => {
    const quote = (w: string) => (w !== '' && /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`);
    fc.assert(
      fc.property(argv, (a) => {
        expect(shlexSplit(a.map(quote).join(' '))).toEqual({ words: a });
      }),
    );
  });

  it('systemd: each word double-quoted with \\\\ \\" and $$ escaped splits back, with no substitution', () => {
    const quote = (w: string) => `"${w.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$/g, '$$$$')}"`;
    fc.assert(
      fc.property(argv, (a) => {
        expect(substitute(words(a.map(quote).join(' ')), {}, new Set())).toEqual(a);
      }),
    );
  });
});
