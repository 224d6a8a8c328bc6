// The C keeper's running-as step (keeper-runas.c) driven by hand (no HAM): what
// HAM_RUN_* says reaches the command, is not in its environment, and a value
// the kernel or the parser refuses fails the start with its errno (an F record)
// rather than running the command with less than it was given (a cgroup it
// cannot join: 2048 + errno).
import { spawn } from 'node:child_process';
import { constants as osConstants, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/keeper/inbox.js';
import { KEEPER_BINARY } from '../../src/paths.js';
import { killAll, waitFor } from '../helpers/ham.js';

let dir: string;
let inbox: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-keeper-runas-'));
  inbox = join(dir, 'inbox');
  mkdirSync(inbox);
  mkdirSync(join(dir, 'k'));
});
afterEach(() => {
  killAll(dir);
  rmSync(dir, { recursive: true, force: true });
});

const records = (): ReturnType<typeof parseRecord>[] =>
  readdirSync(inbox)
    .filter((f) => /^t-\d+$/.test(f))
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
    .map((f) => parseRecord(readFileSync(join(inbox, f), 'utf8').trim()));

function keeper(env: Record<string, string>, ...argv: string[]): void {
  spawn(KEEPER_BINARY, [join(dir, 'k'), inbox, 't', 'start', '--', ...argv], { stdio: 'ignore', detached: true, env: { ...process.env, ...env } }).unref();
}

describe.skipIf(process.geteuid?.() !== 0)('the C keeper: running as', () => {
  it('applies ids, groups, umask, nice, oom_score_adj and limits, and takes HAM_RUN_* out of the environment', async () => {
    keeper(
      {
        HAM_RUN_UID: '65534',
        HAM_RUN_GID: '65534',
        HAM_RUN_GROUPS: '1,65534',
        HAM_RUN_UMASK: '077',
        HAM_RUN_NICE: '3',
        HAM_RUN_OOM: '17',
        HAM_RUN_LIMITS: 'nofile=50:60,stack=unlimited:unlimited',
      },
      'sleep',
      '1000',
    ); // the keeper's command line names the folder: killAll finds it and its child
    const s = await waitFor('S', () => records().find((r) => r?.kind === 'S'));
    const pid = (s as { pid: number }).pid;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Groups:\s+1 65534\s*$/m);
    expect(status).toMatch(/^Umask:\s+0077$/m);
    expect(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('17');
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]).toBe('3');
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    expect(limits).toMatch(/^Max open files\s+50\s+60\s/m);
    expect(limits).toMatch(/^Max stack size\s+unlimited\s+unlimited\s/m);
    expect(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter((v) => v.startsWith('HAM_RUN_')),
    ).toEqual([]);
  });

  it.each([
    ['an unknown limit', { HAM_RUN_LIMITS: 'bogus=1:1' }, osConstants.errno.EINVAL],
    ['soft above hard (the kernel refuses)', { HAM_RUN_LIMITS: 'nofile=10:5' }, osConstants.errno.EINVAL],
    ['a uid that is not a number', { HAM_RUN_UID: 'nobody' }, osConstants.errno.EINVAL],
    ['oom_score_adj out of range', { HAM_RUN_OOM: '5000' }, osConstants.errno.EINVAL],
    // 2048 + errno: its cgroup could not be joined (the HAM names the folder in the start failure)
    ['a cgroup that does not exist', { HAM_RUN_CGROUP: '/nonexistent-ham-cgroup' }, 2048 + osConstants.errno.ENOENT],
  ])('%s: the start fails with its errno (F), the command never runs', async (_what, env, errno) => {
    keeper(env, 'sh', '-c', `touch ${dir}/ran`, dir);
    const f = await waitFor('F', () => records().find((r) => r?.kind === 'F'));
    expect(f).toEqual({ kind: 'F', errno });
    expect(records().some((r) => r?.kind === 'S')).toBe(false);
    expect(readdirSync(dir)).not.toContain('ran');
  });
});
