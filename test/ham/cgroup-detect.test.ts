// Where entities' cgroups can go (src/ham/cgroup-detect.ts), from fixture text of
// /proc/self/mountinfo and /proc/self/cgroup: a unified host, a hybrid one (this
// machine's layout: v1 controllers and a cgroup2 mount offering only hugetlb), a
// v1-only one; and the refusals, each naming why.
import { describe, expect, it } from 'vitest';
import { baseDir, cgroupProblems, limitFiles, limitValueProblem, parseMountinfo, parseProcCgroup, type CgroupFacts } from '../../src/ham/cgroup-detect.js';

const UNIFIED = `
22 27 0:20 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
25 27 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const HYBRID = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V1 = `
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`;

const facts = (over: Partial<CgroupFacts>): CgroupFacts => ({
  mounts: parseMountinfo(UNIFIED),
  base: '/sys/fs/cgroup/system.slice/ham.service',
  controllers: ['cpu', 'io', 'memory', 'pids'],
  notDelegated: null,
  ...over,
});

describe('mounts and the pair cgroup', () => {
  it('find the cgroup2 mount and each v1 controller (a named hierarchy is none)', () => {
    expect(parseMountinfo(UNIFIED)).toEqual({ v2: { point: '/sys/fs/cgroup', root: '/' }, v1: {} });
    expect(parseMountinfo(HYBRID)).toEqual({
      v2: { point: '/sys/fs/cgroup/unified', root: '/' },
      v1: { cpu: '/sys/fs/cgroup/cpu', memory: '/sys/fs/cgroup/memory', pids: '/sys/fs/cgroup/pids' },
    });
    expect(parseMountinfo(V1)).toEqual({
      v2: null,
      v1: { cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct', memory: '/sys/fs/cgroup/memory' },
    });
    expect(parseMountinfo('41 31 0:38 / /mnt/cg\\040two rw - cgroup2 none rw\n').v2).toEqual({ point: '/mnt/cg two', root: '/' }); // \040: a space
  });

  it("read the 0:: line, and BASE: the pair's cgroup, or the grandparent of the leaf it was moved to", () => {
    expect(parseProcCgroup('4:memory:/x\n0::/system.slice/ham.service\n')).toBe('/system.slice/ham.service');
    expect(parseProcCgroup('4:memory:/x\n1:cpu:/\n')).toBeNull();
    const v2 = { point: '/sys/fs/cgroup/unified', root: '/' };
    expect(baseDir(v2, '/', 'abc')).toBe('/sys/fs/cgroup/unified');
    expect(baseDir(v2, '/a/b', 'abc')).toBe('/sys/fs/cgroup/unified/a/b');
    expect(baseDir(v2, '/a/ham-abc/ham-pair', 'abc')).toBe('/sys/fs/cgroup/unified/a');
    expect(baseDir(v2, '/ham-abc/ham-pair', 'abc')).toBe('/sys/fs/cgroup/unified');
    expect(baseDir(v2, '/a/ham-other/ham-pair', 'abc')).toBe('/sys/fs/cgroup/unified/a/ham-other/ham-pair'); // another home's: not ours to undo
    expect(baseDir({ point: '/sys/fs/cgroup', root: '/lxc/c1' }, '/lxc/c1/svc', 'abc')).toBe('/sys/fs/cgroup/svc');
    expect(baseDir({ point: '/sys/fs/cgroup', root: '/lxc/c1' }, '/elsewhere', 'abc')).toEqual({
      why: "the pair's cgroup /elsewhere is outside what the cgroup2 mount at /sys/fs/cgroup shows (/lxc/c1)",
    });
  });
});

describe('refusals name why', () => {
  it('none where the controllers are delegated: limits, and {} (a cgroup of its own, no limits)', () => {
    expect(cgroupProblems(facts({}), { memoryMax: 1 << 26, cpuMax: '50000 100000', pidsMax: 64 })).toEqual([]);
    expect(cgroupProblems(facts({ controllers: [] }), {})).toEqual([]);
  });

  it('no cgroup2 mount: v1 only', () => {
    expect(cgroupProblems(facts({ mounts: parseMountinfo(V1), base: null }), {})).toEqual([
      {
        expected: expect.stringContaining('expected a cgroup2 (unified hierarchy) mount, at /sys/fs/cgroup or /sys/fs/cgroup/unified'),
        got: 'only cgroup v1 here (cpu, cpuacct, memory)',
      },
    ]);
  });

  it('not delegated: says how (Delegate=yes, or chown)', () => {
    const [p] = cgroupProblems(facts({ notDelegated: '/sys/fs/cgroup/user.slice/cgroup.procs is not writable by this HAM (uid 1000): EACCES' }), {});
    expect(p!.expected).toMatch(/Delegate=yes/);
    expect(p!.expected).toMatch(/chown/);
    expect(p!.got).toMatch(/EACCES/);
  });

  it('a controller bound to v1 names its v1 mount; one not offered names what is', () => {
    const hybrid = facts({ mounts: parseMountinfo(HYBRID), base: '/sys/fs/cgroup/unified', controllers: ['hugetlb'] });
    expect(cgroupProblems(hybrid, {})).toEqual([]);
    expect(cgroupProblems(hybrid, { memoryMax: 1 << 26, pidsMax: 10 })).toEqual([
      {
        limit: 'memoryMax',
        expected: 'expected the memory controller on cgroup v2 (in /sys/fs/cgroup/unified/cgroup.controllers) for memoryMax; use limits: (setrlimit) instead',
        got: 'memory is bound to cgroup v1 here (mounted at /sys/fs/cgroup/memory)',
      },
      expect.objectContaining({ limit: 'pidsMax', got: 'pids is bound to cgroup v1 here (mounted at /sys/fs/cgroup/pids)' }),
    ]);
    expect(cgroupProblems(facts({ controllers: ['memory'] }), { cpuMax: 'max' })).toEqual([
      expect.objectContaining({ limit: 'cpuMax', got: "cpu is not offered to the pair's cgroup (its cgroup.controllers: memory)" }),
    ]);
  });

  it('each limit file gets its value, or max where none is asked', () => {
    expect(limitFiles({ memoryMax: 1000, cpuMax: '5000 10000' })).toEqual({ 'memory.max': '1000', 'cpu.max': '5000 10000', 'pids.max': 'max' });
  });

  it('limit values are bounded as the kernel bounds them: a value it would refuse is refused, saying what is taken', () => {
    const cpu =
      'expected "QUOTA PERIOD" in microseconds (QUOTA an integer 1000..9007199254740991 or "max", PERIOD an integer 1000..1000000, default 100000), or "max"';
    for (const ok of ['max', 'max 100000', '1000', '50000 100000', '1000 1000', '2000000 1000000']) expect(limitValueProblem('cpuMax', ok)).toBeNull();
    for (const bad of ['999 100000', '50000 999', '50000 1000001', '0', '1e5 100000', '50000  100000', ' max', '9007199254740992', 'max max', 5000])
      expect(limitValueProblem('cpuMax', bad)).toBe(cpu);
    for (const ok of [1, 1 << 26, Number.MAX_SAFE_INTEGER, 'max']) expect(limitValueProblem('memoryMax', ok)).toBeNull();
    for (const bad of [0, 1e21, Number.MAX_SAFE_INTEGER + 1, 1.5, '1000', -1])
      expect(limitValueProblem('memoryMax', bad)).toBe('expected an integer 1..9007199254740991 (bytes), or "max"');
    for (const ok of [1, 4194304, 'max']) expect(limitValueProblem('pidsMax', ok)).toBeNull();
    for (const bad of [0, 4194305, 1e21, 2.5]) expect(limitValueProblem('pidsMax', bad)).toBe('expected an integer 1..4194304, or "max"');
  });
});
