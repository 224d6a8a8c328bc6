// The pieces of src/ham/cgroups.ts a stop and a start lean on: which processes are the pair's
// (a home's path as a whole argument, never a prefix of another home's), killCgroup on a real
// cgroup below this test's own (cgroup.kill, and the pid-by-pid fallback of kernels without it,
// which stops once the entity's next start began), and a limit the kernel refuses, named.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMountinfo, parseProcCgroup } from '../../src/ham/cgroup-detect.js';
import { argsNameHome, cgroupPids, killCgroup, writeLimit } from '../../src/ham/cgroups.js';
import { waitFor } from '../helpers/ham.js';

const v2 = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).v2;
const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
const BASE = v2 && own !== null && v2.root === '/' ? join(v2.point, own) : null;
const usable = process.geteuid?.() === 0 && BASE !== null && existsSync(join(BASE, 'cgroup.procs'));
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('argsNameHome', () => {
  it('matches the home as a whole argument or a space-delimited word of a ham title, never a prefix of a longer path', () => {
    expect(argsNameHome(['node', 'keeper', '/tmp/h1'], '/tmp/h1')).toBe(true);
    expect(argsNameHome(['ham: HAM /tmp/h1 epoch 3'], '/tmp/h1')).toBe(true);
    expect(argsNameHome(['ham: guardian /tmp/h1'], '/tmp/h1')).toBe(true);
    expect(argsNameHome(['ham: guardian /tmp/my home'], '/tmp/my home')).toBe(true);
    expect(argsNameHome(['node', 'keeper', '/tmp/h10'], '/tmp/h1')).toBe(false);
    expect(argsNameHome(['ham: HAM /tmp/h10 epoch 3'], '/tmp/h1')).toBe(false);
    expect(argsNameHome(['ham: guardian /tmp/h10'], '/tmp/h1')).toBe(false);
    expect(argsNameHome(['sh', '-c', 'cat /tmp/h1'], '/tmp/h1')).toBe(false); // not a ham title
  });
});

describe.skipIf(!usable)('killCgroup and writeLimit on a real cgroup', () => {
  let dir = '';
  let kids: ChildProcess[] = [];
  afterEach(async () => {
    for (const k of kids) if (k.pid && alive(k.pid)) k.kill('SIGKILL');
    kids = [];
    if (dir && existsSync(dir)) {
      await waitFor(`${dir} empty`, () => cgroupPids(dir).length === 0, 20_000);
      rmdirSync(dir);
    }
    dir = '';
  });

  /** A cgroup of this test's with `n` sleepers in it. */
  async function withSleepers(name: string, n: number): Promise<number[]> {
    dir = join(BASE!, `ham-test-kill-${process.pid}-${name}`);
    mkdirSync(dir);
    for (let i = 0; i < n; i++) {
      const k = spawn('perl', ['-e', 'sleep 100000', `kill-${process.pid}-${name}`], { stdio: 'ignore' });
      kids.push(k);
      await waitFor('spawned', () => k.pid !== undefined);
      writeFileSync(join(dir, 'cgroup.procs'), String(k.pid));
    }
    const pids = kids.map((k) => k.pid!);
    expect(cgroupPids(dir).sort()).toEqual([...pids].sort());
    return pids;
  }

  it('with cgroup.kill: everything is killed, and it resolves once the cgroup is empty', async () => {
    const pids = await withSleepers('file', 2);
    expect((await killCgroup(dir)).sort()).toEqual([...pids].sort());
    expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toMatch(/^populated 0$/m); // waited for it, not a fixed time
    for (const p of pids) await waitFor(`${p} reaped`, () => !alive(p));
  });

  it('the pid-by-pid fallback kills everything too', async () => {
    const pids = await withSleepers('pids', 3);
    expect((await killCgroup(dir, { killFile: false })).sort()).toEqual([...pids].sort());
    expect(cgroupPids(dir)).toEqual([]);
  });

  it("the fallback kills nothing once the entity's next start began (mayKill false), by either way", async () => {
    const pids = await withSleepers('guard', 2);
    expect(await killCgroup(dir, { killFile: false, mayKill: () => false })).toEqual([]);
    expect(await killCgroup(dir, { mayKill: () => false })).toEqual([]);
    for (const p of pids) expect(alive(p)).toBe(true);
    // Allowed for the first pass only: a pass kills what it read, then the guard stops the next one.
    let asked = 0;
    const found = await killCgroup(dir, { killFile: false, ms: 200, mayKill: () => ++asked <= 2 });
    expect(found.sort()).toEqual([...pids].sort());
    for (const p of pids) await waitFor(`${p} killed`, () => !alive(p));
  });

  it('a limit write the kernel refuses names the field, the file, what it takes and what it refused', async () => {
    dir = join(BASE!, `ham-test-kill-${process.pid}-write`);
    mkdirSync(dir);
    // No cpu controller is enabled for this cgroup: the kernel refuses the file (no cpu.max there to write).
    const file = join(dir, 'cpu.max');
    let message = '';
    try {
      writeLimit(dir, 'cpu.max', '500 100000');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      new RegExp(
        `^\`cgroup\\.cpuMax\` \\(${file.replace(/[.]/g, '\\.')}\\): expected "QUOTA PERIOD" in microseconds \\(QUOTA an integer 1000\\.\\.9007199254740991 or "max", PERIOD an integer 1000\\.\\.1000000, default 100000\\), or "max", the kernel refused 500 100000: E[A-Z]+$`,
      ),
    );
  });
});
