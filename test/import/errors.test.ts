// What `ham import` refuses, in-process: each a HamError (bad-request) whose
// message names the file, the line where there is one, what was expected and
// what came. The CLI prints the same (test/import/apply.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importPm2, importSupervisord, importSystemd } from '../../src/import/index.js';
import { HamError } from '../../src/model/errors.js';

const D = mkdtempSync(join(tmpdir(), 'ham-import-errors-'));
afterAll(() => rmSync(D, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(D, name);
  writeFileSync(p, text);
  return p;
};

async function refusal(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (e) {
    expect(e).toBeInstanceOf(HamError);
    expect((e as HamError).code).toBe('bad-request');
    return (e as HamError).message;
  }
  throw new Error('expected a refusal');
}

describe('ham import refuses, naming the file and line', () => {
  it('systemd', async () => {
    const noExec = file('a.service', '[Unit]\nDescription=a\n\n[Service]\nType=simple\n');
    expect(await refusal(() => importSystemd([noExec]))).toBe(`${noExec}:4: [Service]: expected an ExecStart= line`);
    const restart = file('b.service', '[Service]\nExecStart=/bin/b\nRestart=sometimes\n');
    expect(await refusal(() => importSystemd([restart]))).toContain(`${restart}:3: Restart: expected no, always,`);
    const sig = file('c.service', '[Service]\nExecStart=/bin/c\nKillSignal=SIGNOPE\n');
    expect(await refusal(() => importSystemd([sig]))).toBe(`${sig}:3: KillSignal: expected a signal name such as SIGTERM, got "SIGNOPE"`);
    const span = file('d.service', '[Service]\nExecStart=/bin/d\nRestart=always\nRestartSec=soon\n');
    expect(await refusal(() => importSystemd([span]))).toBe(`${span}:4: RestartSec: expected a time span such as 5s or 1min 30s, got "soon"`);
    const quote = file('e.service', '[Service]\nExecStart=/bin/e "open\n');
    expect(await refusal(() => importSystemd([quote]))).toBe(`${quote}:2: ExecStart: no closing " in "/bin/e \\"open"`);
    const env = file('f.service', '[Service]\nEnvironment=JUSTANAME\nExecStart=/bin/f\n');
    expect(await refusal(() => importSystemd([env]))).toBe(`${env}:2: Environment: expected NAME=value, got "JUSTANAME"`);
    expect(await refusal(() => importSystemd([sig, sig]))).toContain('two entities would be named "c"');
  });

  it('supervisord', async () => {
    const noCmd = file('a.conf', '[program:a]\ndirectory=/tmp\n');
    expect(await refusal(() => importSupervisord(noCmd))).toBe(`${noCmd}:1: [program:a]: expected a command= line`);
    const nump = file('b.conf', '[program:b]\ncommand=/bin/b\nnumprocs=3\n');
    expect(await refusal(() => importSupervisord(nump))).toContain(`${nump}:3: [program:b]: numprocs=3 needs %(process_num)s in process_name`);
    const ar = file('c.conf', '[program:c]\ncommand=/bin/c\nautorestart=maybe\n');
    expect(await refusal(() => importSupervisord(ar))).toBe(`${ar}:3: autorestart: expected true, false or unexpected, got "maybe"`);
    const env = file('d.conf', '[program:d]\ncommand=/bin/d\nenvironment=A="1,B=2\n');
    expect(await refusal(() => importSupervisord(env))).toContain(`${env}:3: environment: no closing quotation`);
    const secs = file('e.conf', '[program:e]\ncommand=/bin/e\nstartsecs=ten\n');
    expect(await refusal(() => importSupervisord(secs))).toBe(`${secs}:3: startsecs: expected a whole number, got "ten"`);
    const two = file('f.conf', '[program:x y]\ncommand=/bin/a\n[program:x-y]\ncommand=/bin/b\n');
    expect(await refusal(() => importSupervisord(two))).toContain('two entities would be named "x-y"');
  });

  it('pm2', async () => {
    const noScript = file('a.json', '{"apps": [{"name": "a"}]}');
    expect(await refusal(() => importPm2(noScript))).toBe(`${noScript}: apps[0]: expected a script, got undefined`);
    const json = file('b.json', '{"apps": [\n{"name": "b",}\n]}');
    expect(await refusal(() => importPm2(json))).toMatch(new RegExp(`^${json.replace(/[.]/g, '\\.')}:2: not valid JSON`));
    const yaml = file('c.yaml', 'apps:\n  - name: c\n    script: [unclosed\n');
    expect(await refusal(() => importPm2(yaml))).toContain(`${yaml}:`);
    const thrower = file('d.config.js', "throw new Error('config broke');\n");
    expect(await refusal(() => importPm2(thrower))).toMatch(/^.*d\.config\.js:1: evaluating it in node failed: Error: config broke/);
    const dup = file('e.json', '{"apps": [{"name": "e", "script": "e.js"}, {"name": "e", "script": "f.js"}]}');
    expect(await refusal(() => importPm2(dup))).toContain('two entities would be named "e"');
  });
});
