// `ham startup`: the unit systemd accepts, and its own ExecStart/ExecStop lines run for real.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execWord, execWords } from '../../src/cli/startup.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { daemons, ham, hamJson, procsWith, sleeper, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    ),
  );
}

const line = (unit: string, key: string): string[] =>
  execWords(
    unit
      .split('\n')
      .find((l) => l.startsWith(`${key}=`))!
      .slice(key.length + 1),
  );

describe('exec words', () => {
  it('quote what systemd would split or expand, and read back the same', () => {
    for (const w of ['/usr/bin/node', '/tmp/a b', '50%', 'x$HOME', 'say "hi"', 'back\\slash', '--home']) expect(execWords(execWord(w))).toEqual([w]);
    expect(execWord('/tmp/a b')).toBe('"/tmp/a b"');
    expect(execWord('50%')).toBe('50%%');
    expect(() => execWord('a\nb')).toThrow(/line break/);
  });
});

describe('ham startup', () => {
  it('--print gives a system unit systemd-analyze verify accepts, running as this user', async () => {
    const r = await hamJson<{ unit: string }>(t.home, ['startup', '--print']);
    expect(r.unit).toMatch(/^Type=oneshot$/m);
    expect(r.unit).toMatch(/^KillMode=process$/m);
    expect(r.unit).toMatch(/^Delegate=yes$/m); // the pair may make cgroups for its entities below the unit's
    expect(r.unit).toMatch(/^User=\S+$/m);
    expect(r.unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(line(r.unit, 'ExecStart').slice(-3)).toEqual(['--home', t.home, 'start']);
    const file = join(t.home, 'ham.service');
    writeFileSync(file, r.unit);
    const v = await run('systemd-analyze', ['verify', file]);
    expect(v).toEqual({ code: 0, out: '' });
  });

  it('--user writes the unit under XDG_CONFIG_HOME; its ExecStop stops the pair, entities keep running, ExecStart re-adopts them', async () => {
    const config = join(t.home, 'config');
    mkdirSync(config);
    const home = join(t.home, 'pair home 100%'); // a space and a specifier: quoted and escaped in the unit
    const w = await hamJson<{ written: string; next: string[] }>(home, ['startup', '--user', '--name', 'ham-test'], { XDG_CONFIG_HOME: config });
    expect(w.written).toBe(join(config, 'systemd', 'user', 'ham-test.service'));
    expect(statSync(w.written).mode & 0o777).toBe(0o644);
    expect(w.next).toContain('systemctl --user enable --now ham-test');
    const unit = readFileSync(w.written, 'utf8');
    expect(unit).toMatch(/^WantedBy=default\.target$/m);
    expect(unit).not.toMatch(/^User=/m);
    expect(await run('systemd-analyze', ['verify', w.written])).toEqual({ code: 0, out: '' });

    const [startFile, ...startArgs] = line(unit, 'ExecStart');
    const [stopFile, ...stopArgs] = line(unit, 'ExecStop');
    expect((await run(startFile!, startArgs)).code).toBe(0);
    const marker = join(t.home, 'svc');
    await hamJson(home, ['attach', 'svc', '--', ...sleeper(marker)]);
    const up = await waitStatus(home, 'svc running', (s) => s.entities.some((e) => e.name === 'svc' && e.state === 'running' && e.pid !== null));
    const pid = up.entities.find((e) => e.name === 'svc')!.pid!;
    const id = procId(pid)!;

    const stopped = await run(stopFile!, stopArgs);
    expect(stopped.code).toBe(0);
    expect(stopped.out).toMatch(/entities keep running/);
    await waitFor('the pair gone', () => daemons(home).length === 0);
    expect(isAlive(id)).toBe(true);

    expect((await run(startFile!, startArgs)).code).toBe(0);
    const again = await waitStatus(home, 'svc adopted', (s) => s.entities.some((e) => e.name === 'svc' && e.state === 'running' && e.pid === pid));
    expect(again.entities).toHaveLength(1);
    expect(procsWith(marker)).toEqual([pid]);
    expect((await ham(home, ['stop', '--all'])).code).toBe(0);
  });

  it('refuses a unit name systemd would not take', async () => {
    const r = await ham(t.home, ['startup', '--print', '--name', 'a b']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/expected a unit name .* got "a b"/);
  });
});
