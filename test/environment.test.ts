// Environment names, values and the base: pure rules, checked fast.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultBaseEnv, ENV_NAME, envNameProblem, FIXED_PATH, nextBaseEnv, parseEnvPair } from '../src/environment.js';
import { readSpec } from '../src/detector/spec.js';
import { envMap } from '../src/protocol/specs.js';

describe('environment names and values', () => {
  it('accepts exactly POSIX portable names', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (name) => {
        const ok = envNameProblem(name) === undefined;
        expect(ok).toBe(/^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
        expect(envMap.safeParse({ [name]: 'v' }).success).toBe(ok);
      }),
    );
    expect(ENV_NAME.test('_A1')).toBe(true);
    expect(envNameProblem('x'.repeat(129))).toBeDefined();
  });

  it('NAME=VALUE splits at the first =; a bad name or a NUL is named', () => {
    expect(parseEnvPair('A=B=x')).toEqual(['A', 'B=x']);
    expect(parseEnvPair('A=')).toEqual(['A', '']);
    expect(parseEnvPair('=v')).toMatch(/got the name "" \(in "=v"\)/);
    expect(parseEnvPair('A B=v')).toMatch(/got the name "A B"/);
    expect(parseEnvPair('noequals')).toMatch(/expected NAME=VALUE, got "noequals"/);
    expect(parseEnvPair('A=x\0y')).toMatch(/^A: expected no NUL byte/);
  });

  it('bounds an environment as a whole', () => {
    const many = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`V${i}`, '1']));
    expect(envMap.safeParse(many).success).toBe(false);
  });

  it('a detector sidecar with a bad name is refused naming it', () => {
    expect(() => readSpec('', JSON.stringify({ kind: 'check', entity: 'web', env: { 'A=B': 'x' } }))).toThrow(
      /sidecar\.env: expected a variable name .*got the name "A=B"/,
    );
  });
});

describe('the base environment', () => {
  it('starts from a fixed set, not from the starting shell', () => {
    const base = defaultBaseEnv({ FOO: 'bar', PATH: '/elsewhere', HOME: '/not/mine', LANG: 'C.UTF-8' });
    expect(base.PATH).toBe(FIXED_PATH);
    expect(base.FOO).toBeUndefined();
    expect(base.HOME).not.toBe('/not/mine');
    expect(base.LANG).toBe('C.UTF-8');
    expect(defaultBaseEnv({}).LANG).toBeUndefined();
  });

  it('once stored, a later start changes it only by explicit requests', () => {
    const stored = { PATH: FIXED_PATH, A: '1', B: '2' };
    expect(nextBaseEnv(stored, { LANG: 'de_DE', FOO: 'x' }, undefined)).toEqual(stored);
    expect(nextBaseEnv(stored, {}, { set: { C: '3', A: 'one' }, unset: ['B'] })).toEqual({ PATH: FIXED_PATH, A: 'one', C: '3' });
  });
});
