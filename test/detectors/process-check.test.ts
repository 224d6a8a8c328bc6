// process-check against real processes: a sleeping child and its pid file, a
// unique argv[0], a unique executable name (comm), a killed pid, a zombie.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { procState, run, Scope, waitFor } from './helpers.js';

let scope: Scope;
let dir: string;
beforeEach(() => {
  scope = new Scope();
  dir = scope.tmp('ham-det-proc-');
});
afterEach(() => scope.cleanup());

function comm(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const unique = () => `hpc${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;

describe('process-check', () => {
  it('--pidfile: the pid in the file is alive → 0; killed → 7 (stale)', async () => {
    const child = scope.spawn('sleep', ['60']);
    const pidfile = join(dir, 'web.pid');
    writeFileSync(pidfile, `${child.pid}\n`);
    const r = await run('process-check', ['--pidfile', pidfile]);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([`pid ${child.pid} from ${pidfile} is running`]);

    await scope.kill(child);
    const dead = await run('process-check', ['--pidfile', pidfile]);
    expect(dead.code).toBe(7);
    expect(dead.lines).toEqual([`pid ${child.pid} from ${pidfile} is not running (stale pid file)`]);
  });

  it('--pidfile with --name guards against a reused pid', async () => {
    const child = scope.spawn('sleep', ['60']);
    const pidfile = join(dir, 'web.pid');
    writeFileSync(pidfile, `  ${child.pid}  \n`);
    expect((await run('process-check', ['--pidfile', pidfile, '--name', 'sleep'])).code).toBe(0);
    const other = await run('process-check', ['--pidfile', pidfile, '--name', 'nginx']);
    expect(other.code).toBe(7);
    expect(other.line).toBe(`pid ${child.pid} from ${pidfile} is running but is not nginx (a reused pid?)`);
  });

  it('--pidfile: missing file → 7; no pid in it → 1', async () => {
    const missing = await run('process-check', ['--pidfile', join(dir, 'none.pid')]);
    expect(missing.code).toBe(7);
    expect(missing.line).toBe(`pid file ${join(dir, 'none.pid')} does not exist`);
    const junk = join(dir, 'junk.pid');
    writeFileSync(junk, 'hello\n');
    const r = await run('process-check', ['--pidfile', junk]);
    expect(r.code).toBe(1);
    expect(r.line).toBe(`pid file ${junk} holds no pid ('hello')`);
    writeFileSync(junk, '');
    expect((await run('process-check', ['--pidfile', junk])).code).toBe(1);
  });

  it('a zombie counts as not running (7)', async () => {
    // perl forks a child that exits at once and never reaps it (sh could reap it before its exec: CI saw that).
    const parent = scope.spawn('perl', ['-e', '$| = 1; my $p = fork; exit 0 unless $p; print "$p\n"; sleep 60']);
    const zombie = Number(await Scope.line(parent, /^\d+$/));
    await waitFor('the child to be a zombie', () => procState(zombie) === 'Z');
    const pidfile = join(dir, 'z.pid');
    writeFileSync(pidfile, `${zombie}\n`);
    const r = await run('process-check', ['--pidfile', pidfile]);
    expect(r.code).toBe(7);
    expect(r.line).toMatch(/is not running/);
  });

  it('--entity: HAM_PID alive → 0; empty → 7; gone → 7; not a pid → 1', async () => {
    const child = scope.spawn('sleep', ['60']);
    const r = await run('process-check', ['--entity'], { HAM_PID: String(child.pid) });
    expect(r.code).toBe(0);
    expect(r.line).toBe(`pid ${child.pid} of entity web is running`);
    expect((await run('process-check', ['--entity', '--name', 'sleep'], { HAM_PID: String(child.pid) })).code).toBe(0);

    const none = await run('process-check', ['--entity'], { HAM_PID: '' });
    expect(none.code).toBe(7);
    expect(none.line).toBe('entity web has no pid (not running)');

    await scope.kill(child);
    const gone = await run('process-check', ['--entity'], { HAM_PID: String(child.pid) });
    expect(gone.code).toBe(7);
    expect(gone.line).toBe(`pid ${child.pid} of entity web is not running`);

    expect((await run('process-check', ['--entity'], { HAM_PID: 'abc' })).code).toBe(1);
  });

  it('--name matches argv[0]', async () => {
    const name = unique();
    const child = scope.spawn('sleep', ['60'], { argv0: name });
    const r = await run('process-check', ['--name', name]);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([`${name} is running (pid ${child.pid})`]);
    await scope.kill(child);
    const gone = await run('process-check', ['--name', name]);
    expect(gone.code).toBe(7);
    expect(gone.lines).toEqual([`no process named ${name}`]);
  });

  it('--name matches the executable name (comm), and counts every match', async () => {
    const name = unique().slice(0, 15);
    const exe = join(dir, name);
    copyFileSync('/bin/sleep', exe);
    const a = scope.spawn(exe, ['60'], { argv0: 'something-else' });
    const b = scope.spawn(exe, ['60'], { argv0: 'another-name' });
    // comm is the executable's name once exec'd.
    await waitFor('both to exec', () => [a, b].every((c) => comm(c.pid) === name));
    const r = await run('process-check', ['--name', name]);
    expect(r.code).toBe(0);
    const pids = [a.pid, b.pid].sort((x, y) => x - y);
    expect(r.line).toBe(`${name} is running (2 processes: pids ${pids.join(' ')})`);
  });

  it('bad arguments: exit 2', async () => {
    for (const args of [[], ['--pidfile'], ['--pidfile', 'x', '--entity'], ['--name', ''], ['stray'], ['--entity=yes']]) {
      const r = await run('process-check', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.lines).toHaveLength(1);
    }
  });
});
