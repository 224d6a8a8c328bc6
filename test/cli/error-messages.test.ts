// Error messages that say what is wrong (issue 14 item 6): a file that is there but cannot run, a
// missing -f file, a misspelt field, a number too large to be the one typed, a typo in a command.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executableProblem } from '../../src/ham/executable.js';
import { CALM, ham, hamJson, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const at = (f: string): string => join(t.home, f);
const jsonError = async (args: string[]): Promise<{ code: string; message: string; issues?: { path: string; expected: string }[] }> => {
  const r = await ham(t.home, ['--json', ...args]);
  expect(r.code, args.join(' ')).toBe(1);
  return JSON.parse(r.stdout).error;
};

describe('error messages', () => {
  it('a file that is there but not executable, or a folder, says so; "not found" only when nothing is there', () => {
    writeFileSync(at('plain'), '#!/bin/sh\n');
    chmodSync(at('plain'), 0o644);
    mkdirSync(at('dir'));
    expect(executableProblem(at('plain'), '/', undefined)?.got).toBe(`"${at('plain')}" (${at('plain')} is not executable: mode 0644)`);
    expect(executableProblem('./dir', t.home, undefined)?.got).toBe(`"./dir" (${at('dir')} is a folder)`);
    expect(executableProblem(at('none'), '/', undefined)?.got).toBe(`"${at('none')}" (not found)`);
    expect(executableProblem('./none', t.home, undefined)?.got).toBe(`"./none" (not found relative to ${t.home})`);
    // In PATH: the first one there that cannot run says why.
    expect(executableProblem('plain', '/', `${at('dir')}:${t.home}`)?.got).toBe(`"plain" (${at('plain')} is not executable: mode 0644)`);
    chmodSync(at('plain'), 0o755);
    expect(executableProblem('plain', '/', t.home)).toBeUndefined();
  });

  it('attach of a non-executable file and apply of a missing -f file, over a real pair', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    writeFileSync(at('plain'), '#!/bin/sh\n');
    chmodSync(at('plain'), 0o600);
    const e = await jsonError(['attach', 'x', '--', at('plain')]);
    expect(e.message).toBe(`attach.argv[0]: expected an executable file, got "${at('plain')}" (${at('plain')} is not executable: mode 0600)`);
    const missing = await jsonError(['apply', '-f', at('nope.yaml')]);
    expect(missing).toEqual({ code: 'bad-request', message: `-f ${at('nope.yaml')}: expected a YAML or JSON file to read, got no such file` });
    const folder = await jsonError(['apply', '-f', t.home]);
    expect(folder.message).toBe(`-f ${t.home}: expected a YAML or JSON file to read, got a folder, not a file`);
    // A misspelt top-level key: its own path, and the field it is near.
    writeFileSync(at('typo.json'), JSON.stringify({ entitys: {} }));
    const typo = await jsonError(['apply', '-f', at('typo.json')]);
    expect(typo.issues).toEqual([{ path: 'entitys', expected: 'unexpected field (did you mean entities?)' }]);
    // A severity too large to be the number typed: refused by the CLI, and by the HAM for any client.
    const r = await ham(t.home, ['raise', 'x', '--type', 't', '--severity', '99999999999999999999999']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/expected an integer from -2147483648 to 2147483647 for --severity, got "99999999999999999999999"/);
  });

  it('a typo in a command: the suggestion and a one-line hint, not the whole help', async () => {
    const r = await ham(t.home, ['stauts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: unknown command 'stauts'\n(Did you mean status?)\n(ham --help, or ham COMMAND --help, for usage)\n");
  });
});
