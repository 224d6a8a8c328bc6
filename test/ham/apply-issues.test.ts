// `ham apply -f` lists every problem of a file, as text and as data
// (`issues`), through the real CLI against a real daemon: a wrong entity
// field no longer hides the problems in its conditions.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Issue } from '../../src/errors.js';
import { CALM, ham, hamJson, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterAll((suite) => t.cleanup({ task: suite }));

function write(name: string, text: string): string {
  const file = join(t.home, name);
  writeFileSync(file, text);
  return file;
}

describe('ham apply -f: every problem, as data', () => {
  it('a string command does not hide a bad condition type elsewhere in the same entity', async () => {
    const file = write(
      'string-command.yaml',
      ['entities:', '  web:', '    command: "sleep 100"', '    conditions:', '      died: { type: deth }', ''].join('\n'),
    );
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('2 problems in the configuration:');
    expect(r.stderr).toContain('entities.web.command: expected array, got "sleep 100"');
    expect(r.stderr).toMatch(/entities\.web\.conditions\.died\.type: expected one of death, abnormal-death, .*, got "deth"/);
    const j = await ham(t.home, ['--json', 'apply', '-f', file]);
    expect(j.code).toBe(1);
    const { error } = JSON.parse(j.stdout) as { error: { code: string; message: string; issues: Issue[] } };
    expect(error.code).toBe('bad-request');
    expect(error.issues).toEqual([
      { path: 'entities.web.command', expected: 'expected array', got: '"sleep 100"' },
      { path: 'entities.web.conditions.died.type', expected: expect.stringMatching(/^expected one of death, abnormal-death, /), got: '"deth"' },
    ]);
    expect((await status(t.home)).entities.map((e) => e.name)).not.toContain('web');
  });

  it('a file with several problems in several places lists each one once, with its path, in text and in --json', async () => {
    const file = write(
      'several.yaml',
      `
groups:
  g: { strategy: sideways }
entities:
  a:
    command: ["sleep", "100"]
    bogus: 1
    restart: { backoff: { factor: 0 } }
    conditions:
      r:
        type: raise
        actions: [ { kind: restart } ]
      d:
        type: death
        actions: [ { kind: log, onFail: [ { kind: restart } ] } ]
  b:
    pid: "12"
  "*":
    conditions:
      d1: { type: death, actions: [ { kind: restart } ] }
`,
    );
    const j = await ham(t.home, ['--json', 'apply', '-f', file]);
    expect(j.code).toBe(1);
    const { error } = JSON.parse(j.stdout) as { error: { message: string; issues: Issue[] } };
    const paths = error.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'groups.g.strategy',
        'entities.a.bogus',
        'entities.a.restart.backoff.factor',
        'entities.a.conditions.r.actions[0].kind',
        'entities.a.conditions.d.actions[0].onFail[0].kind',
        'entities.b.pid',
        'entities.*.conditions',
      ]),
    );
    expect(new Set(paths).size).toBe(paths.length);
    expect(error.issues.find((i) => i.path === 'entities.a.bogus')).toEqual({ path: 'entities.a.bogus', expected: 'unexpected field' });
    expect(error.issues.find((i) => i.path === 'entities.*.conditions')!.expected).toMatch(/no restart action on the global entity/);
    // The human form says the same, one problem a line, under a count.
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.stderr).toContain(`${error.issues.length} problems in the configuration:`);
    for (const i of error.issues) expect(r.stderr).toContain(`${i.path}: ${i.expected}`);
    expect((await status(t.home)).entities).toEqual([]);
  });
});
