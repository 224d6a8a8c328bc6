// disk-check on the real filesystem of a temp dir, with thresholds far below
// and far above what it has free (read independently with statfs).
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, Scope } from './helpers.js';

let scope: Scope;
let dir: string;
beforeEach(() => {
  scope = new Scope();
  dir = scope.tmp('ham-det-disk-');
});
afterEach(() => scope.cleanup());

/** Free KiB for unprivileged users, as the kernel says. */
function freeKiB(path: string): number {
  const s = statfsSync(path);
  return (s.bavail * s.bsize) / 1024;
}

const LINE = /^(.+?)(?: \(on (\/.*)\))?: (\d+\.\d) (KB|MB|GB|TB) free of (\d+\.\d) (KB|MB|GB|TB) \((\d+)%\), (minimum|below) (.+)$/;

describe('disk-check', () => {
  it('a tiny minimum passes (0), a huge one fails (1), one line each', async () => {
    const ok = await run('disk-check', [dir, '--min-free', '1MB']);
    expect(ok.code).toBe(0);
    expect(ok.lines).toHaveLength(1);
    const m = LINE.exec(ok.line);
    expect(m, ok.line).not.toBeNull();
    expect(m![1]).toBe(dir);
    expect(m![8]).toBe('minimum');

    const bad = await run('disk-check', [dir, '--min-free', '999999999TB']);
    expect(bad.code).toBe(1);
    expect(bad.line).toMatch(/, below 999999999TB$/);
  });

  it('percentages: 0% always passes, 100% fails on a filesystem in use', async () => {
    expect((await run('disk-check', [dir, '--min-free', '0%'])).code).toBe(0);
    const r = await run('disk-check', [dir, '--min-free', '100%']);
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/\(\d+%\), below 100%$/);
  });

  it('reads the same free space as statfs: 20% under it passes, 20% over it fails', async () => {
    const free = freeKiB(dir);
    const under = Math.floor((free * 0.8) / 1024);
    const over = Math.ceil((free * 1.2) / 1024) + 1;
    expect((await run('disk-check', [dir, '--min-free', `${under}MB`])).code).toBe(0);
    expect((await run('disk-check', [dir, `--min-free=${over}MB`])).code).toBe(1);
  });

  it('a path with spaces and a percent sign', async () => {
    const odd = join(dir, 'my disk 50% full');
    mkdirSync(odd);
    const r = await run('disk-check', [odd, '--min-free', '1KB']);
    expect(r.code).toBe(0);
    expect(LINE.exec(r.line)?.[1]).toBe(odd);
  });

  it('a missing path: exit 1', async () => {
    const r = await run('disk-check', [join(dir, 'nope'), '--min-free', '1%']);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`${join(dir, 'nope')} does not exist`]);
  });

  it('bad arguments: exit 2', async () => {
    for (const args of [[], [dir], ['--min-free', '5%'], [dir, '--min-free', '10'], [dir, '--min-free', '1.5GB'], [dir, '--min-free', '101%'], [dir, '--min-free', '-5%'], [dir, dir, '--min-free', '1%']]) {
      const r = await run('disk-check', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.lines).toHaveLength(1);
    }
  });
});
