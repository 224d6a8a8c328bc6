// Entities' cgroups (README "cgroups") with real cgroups on this machine's
// cgroup2 mount (we are root): the entity runs in BASE/ham-TAG/ID, a `setsid`
// escapee it spawned is killed by `ham stop NAME` (by a HAM that took over from a
// SIGKILLed one), removal removes the folder; a limit whose controller is bound
// to v1 here is refused naming its v1 mount; a pair in a cgroup that may not hold
// processes once it gives its children controllers (hugetlb, the one v2 has here)
// is moved into a ham-pair leaf first; a cgroup the child cannot join fails the
// start naming it; the Perl keeper joins too. Every cgroup a test made is removed.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMountinfo, parseProcCgroup } from '../../src/ham/cgroup-detect.js';
import { homeTag } from '../../src/ham/cgroups.js';
import { CLI_MAIN } from '../../src/paths.js';
import { entity } from '../helpers/entities.js';
import {
  applyConfig,
  applyIssues,
  CALM,
  daemons,
  ham,
  hamJson,
  killAll,
  procsWith,
  status,
  tempHome,
  waitFor,
  waitStatus,
  type TestHome,
} from '../helpers/ham.js';

const v2 = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).v2;
const v1 = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).v1;
const own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
// This test's own cgroup2 cgroup: where a pair it starts sits (BASE).
const BASE = v2 && own !== null && v2.root === '/' ? join(v2.point, own) : null;
const usable = process.geteuid?.() === 0 && BASE !== null && existsSync(join(BASE, 'cgroup.procs'));
const offered = (c: string): boolean => !!BASE && readFileSync(join(BASE, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(c);

const cgroupOf = (pid: number): string | null => parseProcCgroup(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
const underMount = (dir: string): string => dir.slice(v2!.point.length) || '/';
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

/** Remove cgroup `dir` (one this test made) and all below it, each once its processes are gone: what is left there is killed. */
async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const d of readdirSync(dir)) if (statSync(join(dir, d)).isDirectory()) await removeTree(join(dir, d));
  for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
    try {
      process.kill(Number(p), 'SIGKILL'); // an escapee of a failed test: in a cgroup only this test made
    } catch {
      /* gone */
    }
  // cgroup.procs empties before the last task has quite exited: rmdir says EBUSY until it has.
  await waitFor(
    `${dir} removed`,
    () => {
      if (readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim() !== '') return false;
      try {
        rmdirSync(dir);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EBUSY') return false;
        throw e;
      }
    },
    20_000,
  );
}

let t: TestHome;
let made: string[] = []; // cgroups to remove after the test
let undo: (() => void)[] = []; // then these
beforeEach(() => {
  t = tempHome();
  made = [];
  undo = [];
});
afterEach(async (ctx) => {
  killAll(t.home);
  for (const d of made) await removeTree(d);
  for (const u of undo)
    try {
      u();
    } catch {
      /* in use by another cgroup below BASE meanwhile: left enabled */
    }
  t.cleanup(ctx);
});

/** A sleeper that first starts a `setsid` escapee (its own session and group, output not ours): marked `esc-MARK`. */
const withEscapee = (mark: string): string[] => [
  'sh',
  '-c',
  `setsid perl -e 'sleep 100000' esc-${mark} </dev/null >/dev/null 2>&1 & exec perl -e 'sleep 100000' ${mark}`,
];

/** A cgroup below this test's, offered hugetlb (the one controller v2 has here), as a unit's with Delegate=yes. */
async function unitCgroup(name: string): Promise<string> {
  const unit = join(BASE!, `ham-test-unit-${process.pid}-${name}`);
  const subtree = join(BASE!, 'cgroup.subtree_control');
  if (!readFileSync(subtree, 'utf8').includes('hugetlb')) {
    writeFileSync(subtree, '+hugetlb'); // offered to the unit's cgroup, so the pair gives it to its children
    undo.push(() => writeFileSync(subtree, '-hugetlb'));
  }
  mkdirSync(unit);
  made.push(unit);
  return unit;
}

/** `ham start` from within cgroup `dir`: the pair sits there. */
async function startIn(dir: string): Promise<void> {
  const code = await new Promise<number>((resolve) =>
    execFile(
      'sh',
      ['-c', `echo $$ > '${dir}/cgroup.procs' && exec "$0" "$@"`, process.execPath, CLI_MAIN, '--home', t.home, '--json', 'start', ...CALM],
      (err) => resolve(err ? 1 : 0),
    ),
  );
  expect(code).toBe(0);
}

describe.skipIf(!usable)('entities in cgroups of their own', () => {
  it('cgroup: {} runs it in BASE/ham-TAG/ID; a SIGKILL takeover keeps it; ham stop kills a setsid escapee; removal removes the folder', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-a`;
    await applyConfig(t.home, { entities: { app: { command: withEscapee(mark), cgroup: {} } } });
    const s = await waitStatus(t.home, 'app running', (x) => entity(x, 'app').state === 'running' && procsWith(`esc-${mark}`).length === 1);
    const e = entity(s, 'app');
    const dir = e.cgroup!;
    expect(dir).toMatch(new RegExp(`^${BASE!.replace(/\/$/, '')}/ham-${homeTag(t.home)}/\\d+$`));
    const [escapee] = procsWith(`esc-${mark}`);
    expect(cgroupOf(e.pid!)).toBe(underMount(dir));
    expect(cgroupOf(escapee!)).toBe(underMount(dir));
    expect(readFileSync(`/proc/${escapee}/stat`, 'utf8').split(') ')[1]!.split(' ')[3]).not.toBe(String(e.pid)); // not in its group
    const shown = await ham(t.home, ['status', 'app']);
    expect(shown.stdout).toMatch(new RegExp(`cgroup:\\s+${dir}`));
    expect(shown.stdout).toMatch(/running as:\s+cgroup \(no limits\)/);

    // A takeover: the new HAM knows the cgroup from the store.
    const hamPid = s.ham.pid!;
    process.kill(hamPid, 'SIGKILL');
    const after = await waitStatus(t.home, 'a new HAM', (x) => x.ham.pid !== null && x.ham.pid !== hamPid && x.guardian.pid !== null);
    expect(entity(after, 'app')).toMatchObject({ pid: e.pid, cgroup: dir });
    expect(cgroupOf(e.pid!)).toBe(underMount(dir));

    await hamJson(t.home, ['stop', 'app', '--wait']);
    await waitFor('the escapee killed', () => !alive(escapee!));
    expect(readFileSync(join(dir, 'cgroup.procs'), 'utf8').trim()).toBe('');

    await hamJson(t.home, ['detach', 'app']);
    await waitFor('its cgroup removed', () => !existsSync(dir));
  });

  it('ham stop NAME of one whose command exited, leaving a daemon it forked: the daemon is killed', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-f`;
    const command = ['sh', '-c', `setsid perl -e 'sleep 100000' esc-${mark} </dev/null >/dev/null 2>&1 & exit 0`, mark];
    await applyConfig(t.home, { entities: { f: { command, cgroup: {} } } });
    await waitStatus(t.home, 'f dead', (x) => entity(x, 'f').state === 'dead' && procsWith(`esc-${mark}`).length === 1);
    const [daemon] = procsWith(`esc-${mark}`);
    await hamJson(t.home, ['stop', 'f', '--wait']);
    await waitFor('the daemon killed', () => !alive(daemon!));
  });

  it('a cgroup gone behind its back fails the start by its standing order (2048 + ENOENT) naming it, and is made again for the next', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const died = { type: 'death', actions: [{ kind: 'restart' }] };
    await applyConfig(t.home, { entities: { g: { command: ['perl', '-e', 'sleep 100000', `cg-${process.pid}-g`], cgroup: {}, conditions: { died } } } });
    const first = entity(await waitStatus(t.home, 'g running', (x) => entity(x, 'g').state === 'running'), 'g');
    const dir = first.cgroup!;
    writeFileSync(join(BASE!, 'cgroup.procs'), String(first.pid)); // out of it, so it can go (as systemd trims an empty cgroup)
    rmdirSync(dir);
    process.kill(first.pid!, 'SIGKILL'); // its keeper restarts it at once by its standing order: the join fails
    const failed = await waitStatus(t.home, 'its start failed', (x) => entity(x, 'g').lastFailure?.startError !== undefined);
    expect(entity(failed, 'g').lastFailure!.startError).toBe(`cannot join its cgroup ${dir}: ENOENT`);
    await waitFor('its cgroup made again', () => existsSync(dir)); // by the HAM, at the failure
    await hamJson(t.home, ['start', 'g', '--wait']);
    expect(cgroupOf(entity(await status(t.home), 'g').pid!)).toBe(underMount(dir));
  });

  it('ham stop --all with no HAM running kills the escapee too', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-o`;
    await applyConfig(t.home, { entities: { o: { command: withEscapee(mark), cgroup: {} } } });
    await waitStatus(t.home, 'o running', (x) => entity(x, 'o').state === 'running' && procsWith(`esc-${mark}`).length === 1);
    const [escapee] = procsWith(`esc-${mark}`);
    await hamJson(t.home, ['stop']); // the pair only: entities keep running
    expect(alive(escapee!)).toBe(true);
    await hamJson(t.home, ['stop', '--all']);
    await waitFor('the escapee killed', () => !alive(escapee!));
    expect(procsWith(mark)).toEqual([]);
  });

  it('an apply that drops cgroup: runs the next instance in the pair cgroup, kills the escapee left in the old one and removes it', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-d`;
    await applyConfig(t.home, { entities: { d: { command: withEscapee(mark), cgroup: {} } } });
    const s = await waitStatus(t.home, 'd running', (x) => entity(x, 'd').state === 'running' && procsWith(`esc-${mark}`).length === 1);
    const dir = entity(s, 'd').cgroup!;
    const [escapee] = procsWith(`esc-${mark}`);
    expect(cgroupOf(entity(s, 'd').pid!)).toBe(underMount(dir));
    expect(cgroupOf(escapee!)).toBe(underMount(dir));
    const command = ['perl', '-e', 'sleep 100000', mark];
    await applyConfig(t.home, { entities: { d: { command } } });
    await hamJson(t.home, ['restart', 'd', '--wait']); // a restart kills no escapee: the drop of its cgroup does
    const after = entity(await status(t.home), 'd');
    expect(after.pid).not.toBe(entity(s, 'd').pid);
    expect(cgroupOf(after.pid!)).toBe(own);
    await waitFor('the escapee in the old cgroup killed', () => !alive(escapee!));
    await waitFor('the old cgroup removed', () => !existsSync(dir));
    await waitStatus(t.home, 'its cgroup forgotten', (x) => entity(x, 'd').cgroup === null);
    expect(alive(after.pid!)).toBe(true); // the new instance, outside it, untouched
  });

  it('apply refuses cgroup limits the kernel would refuse, naming each field, what is taken and what came', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const cgroup = { cpuMax: '500 100000', memoryMax: 1e21, pidsMax: 5_000_000 };
    const issues = await applyIssues(t.home, { entities: { a: { command: ['true'], cgroup } } });
    expect(issues).toContainEqual({
      path: 'entities.a.cgroup.cpuMax',
      expected:
        'expected "QUOTA PERIOD" in microseconds (QUOTA an integer 1000..9007199254740991 or "max", PERIOD an integer 1000..1000000, default 100000), or "max"',
      got: '"500 100000"',
    });
    expect(issues).toContainEqual({
      path: 'entities.a.cgroup.memoryMax',
      expected: 'expected an integer 1..9007199254740991 (bytes), or "max"',
      got: 'number 1e+21',
    });
    expect(issues).toContainEqual({ path: 'entities.a.cgroup.pidsMax', expected: 'expected an integer 1..4194304, or "max"', got: 'number 5000000' });
    const period = await applyIssues(t.home, { entities: { a: { command: ['true'], cgroup: { cpuMax: '50000 2000000' } } } });
    expect(period.map((i) => i.path)).toEqual(['entities.a.cgroup.cpuMax']);
    expect((await status(t.home)).entities).toEqual([]);
  });

  it.skipIf(offered('memory') || !v1.memory)('memoryMax is refused where memory is bound to cgroup v1, naming its mount; nothing is changed', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const issues = await applyIssues(t.home, { entities: { a: { command: ['true'], cgroup: { memoryMax: 1 << 26 } } } });
    expect(issues).toEqual([
      {
        path: 'entities.a.cgroup.memoryMax',
        expected: `expected the memory controller on cgroup v2 (in ${join(BASE!, 'cgroup.controllers')}) for memoryMax; use limits: (setrlimit) instead`,
        got: `memory is bound to cgroup v1 here (mounted at ${v1.memory})`,
      },
    ]);
    expect((await status(t.home)).entities).toEqual([]);
  });

  // Where memory and pids are on cgroup v2 (not on this machine: they are v1 here, so this is skipped, saying why).
  const limitsHere = offered('memory') && offered('pids');
  const why = limitsHere ? '' : ` (skipped: memory or pids is not a cgroup v2 controller here${v1.memory ? `; memory is v1, at ${v1.memory}` : ''})`;
  it.skipIf(!limitsHere)(`memoryMax and pidsMax are written to memory.max and pids.max${why}`, async () => {
    await hamJson(t.home, ['start', ...CALM]);
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-m`;
    await applyConfig(t.home, { entities: { m: { command: ['perl', '-e', 'sleep 100000', mark], cgroup: { memoryMax: 1 << 26, pidsMax: 32 } } } });
    const s = await waitStatus(t.home, 'm running', (x) => entity(x, 'm').state === 'running');
    const dir = entity(s, 'm').cgroup!;
    expect(readFileSync(join(dir, 'memory.max'), 'utf8').trim()).toBe(String(1 << 26));
    expect(readFileSync(join(dir, 'pids.max'), 'utf8').trim()).toBe('32');
    expect(cgroupOf(entity(s, 'm').pid!)).toBe(underMount(dir));
  });

  it.skipIf(!offered('hugetlb'))(
    'a pair whose cgroup may not hold processes (a controller for its children) moves into BASE/ham-TAG/ham-pair first',
    async () => {
      // The pair in a cgroup of its own below this test's, as a systemd unit with Delegate=yes puts it.
      const unit = await unitCgroup('a');
      await startIn(unit);
      const pair = daemons(t.home);
      expect(pair.length).toBe(2);
      for (const p of pair) expect(cgroupOf(p)).toBe(underMount(unit));
      const mark = `cg-${process.pid}-b`;
      await applyConfig(t.home, { entities: { b: { command: ['perl', '-e', 'sleep 100000', mark], cgroup: {} } } });
      const s = await waitStatus(t.home, 'b running', (x) => entity(x, 'b').state === 'running');
      const top = join(unit, `ham-${homeTag(t.home)}`);
      expect(entity(s, 'b').cgroup).toMatch(new RegExp(`^${top}/\\d+$`));
      expect(cgroupOf(entity(s, 'b').pid!)).toBe(underMount(entity(s, 'b').cgroup!));
      for (const p of daemons(t.home)) expect(cgroupOf(p)).toBe(underMount(join(top, 'ham-pair')));
      expect(readFileSync(join(unit, 'cgroup.procs'), 'utf8').trim()).toBe('');
      expect(readFileSync(join(unit, 'cgroup.subtree_control'), 'utf8')).toMatch(/hugetlb/);
      expect(readFileSync(join(top, 'cgroup.subtree_control'), 'utf8')).toMatch(/hugetlb/);

      // A HAM started from the ham-pair leaf (after a takeover) still takes BASE as the unit's cgroup.
      const hamPid = s.ham.pid!;
      process.kill(hamPid, 'SIGKILL');
      await waitStatus(t.home, 'a new HAM', (x) => x.ham.pid !== null && x.ham.pid !== hamPid && x.guardian.pid !== null);
      await applyConfig(t.home, {
        entities: { b: { command: ['perl', '-e', 'sleep 100000', mark], cgroup: {} }, c: { command: ['perl', '-e', 'sleep 100000', `${mark}c`], cgroup: {} } },
      });
      const c = await waitStatus(t.home, 'c running', (x) => entity(x, 'c').state === 'running');
      const leaf = entity(c, 'c').cgroup!;
      expect(leaf).toMatch(new RegExp(`^${top}/\\d+$`));
      expect(cgroupOf(entity(c, 'c').pid!)).toBe(underMount(leaf));

      // A cgroup its child cannot join (one that gives its own children a controller: EBUSY) fails the start, naming it.
      await hamJson(t.home, ['stop', 'c', '--wait']);
      writeFileSync(join(leaf, 'cgroup.subtree_control'), '+hugetlb');
      const r = await ham(t.home, ['start', 'c', '--wait']);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain(`cannot join its cgroup ${leaf}: EBUSY`);
      expect(entity(await status(t.home), 'c').lastFailure?.startError).toBe(`cannot join its cgroup ${leaf}: EBUSY`);
    },
  );

  it.skipIf(!offered('hugetlb'))('a shared cgroup (another process there) is left alone: no controllers, nothing moved, cgroup: {} still works', async () => {
    const unit = await unitCgroup('shared');
    const outsider = spawn('perl', ['-e', 'sleep 100000', `outsider-${process.pid}`], { stdio: 'ignore' });
    undo.push(() => outsider.kill('SIGKILL'));
    writeFileSync(join(unit, 'cgroup.procs'), String(outsider.pid)); // killed by the cleanup of the cgroups this test made
    await startIn(unit);
    await applyConfig(t.home, { entities: { s: { command: ['perl', '-e', 'sleep 100000', `cg-${process.pid}-s`], cgroup: {} } } });
    const s = await waitStatus(t.home, 's running', (x) => entity(x, 's').state === 'running');
    expect(entity(s, 's').cgroup).toMatch(new RegExp(`^${join(unit, `ham-${homeTag(t.home)}`)}/\\d+$`));
    expect(cgroupOf(entity(s, 's').pid!)).toBe(underMount(entity(s, 's').cgroup!));
    for (const p of [...daemons(t.home), outsider.pid!]) expect(cgroupOf(p)).toBe(underMount(unit));
    expect(readFileSync(join(unit, 'cgroup.subtree_control'), 'utf8').trim()).toBe('');
  });

  it('the Perl keeper moves its child into its cgroup too', async () => {
    await hamJson(t.home, ['start', ...CALM], { HAM_KEEPER: 'perl' });
    made.push(join(BASE!, `ham-${homeTag(t.home)}`));
    const mark = `cg-${process.pid}-p`;
    await applyConfig(t.home, { entities: { p: { command: ['perl', '-e', 'sleep 100000', mark], cgroup: {} } } });
    const s = await waitStatus(t.home, 'p running', (x) => entity(x, 'p').state === 'running');
    expect(s.ham.keeper).toBe('perl');
    expect(cgroupOf(entity(s, 'p').pid!)).toBe(underMount(entity(s, 'p').cgroup!));
  });
});
