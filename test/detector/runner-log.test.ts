// The check runner's output capture (runner-log.pl) with the real runner and
// real checks: stdout and stderr kept apart in the keepers' format with the
// instance given, rotation at the bound, a folder that cannot be written
// (lines dropped and counted, said once it can), and a `current` that is a
// FIFO: never waited on (the runner answers all the same).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckRunner } from '../../src/detector/runner.js';
import { killAll } from '../helpers/ham.js';

let dir: string;
let runner: CheckRunner;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-runner-log-'));
  runner = new CheckRunner();
});
afterEach(() => {
  runner.close();
  killAll(dir);
  rmSync(dir, { recursive: true, force: true });
});

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };
const sh = (script: string): string[] => ['/bin/sh', '-c', script, dir];
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err|ham) (\d+) (.*)$/;
const read = (f: string): { stream: string; instance: number; text: string }[] =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = LINE.exec(l);
      if (!m) throw new Error(`not a log line: ${l}`);
      return { stream: m[1]!, instance: Number(m[2]), text: m[3]! };
    });

describe('check runner output capture', () => {
  it('keeps stdout and stderr apart, with the instance, escaped; the last line still comes back', async () => {
    const log = { dir: join(dir, 'probe'), maxBytes: 1 << 20, keep: 2, instance: 7 };
    const r = await runner.run(sh(`echo one; echo two >&2; printf 'tab\\there\\\\ \\033[0m\\n'; printf 'no newline' >&2; exit 1`), ENV, 5000, log);
    expect(r).toMatchObject({ code: 1, last: 'no newline' });
    // Two pipes: each stream's lines in order (lines written to both at once may come in either order).
    const lines = read(join(log.dir, 'current'));
    expect(lines.every((l) => l.instance === 7)).toBe(true);
    expect(lines.filter((l) => l.stream === 'out').map((l) => l.text)).toEqual(['one', 'tab\\there\\\\ \\x1b[0m']);
    expect(lines.filter((l) => l.stream === 'err').map((l) => l.text)).toEqual(['two', 'no newline']);
    expect(statSync(log.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(log.dir, 'current')).mode & 0o777).toBe(0o600);
  });

  it('rotates at maxBytes keeping `keep` older files', async () => {
    const log = { dir: join(dir, 'rot'), maxBytes: 4096, keep: 2, instance: 1 };
    for (let i = 0; i < 4; i++) await runner.run(sh(`for i in $(seq 1 60); do echo "run ${i} line $i"; done`), ENV, 5000, log);
    expect(readdirSync(log.dir).sort()).toEqual(['1', '2', 'current']);
    for (const f of ['1', '2', 'current']) expect(statSync(join(log.dir, f)).size).toBeLessThanOrEqual(4096);
    const last = read(join(log.dir, 'current'));
    expect(last[last.length - 1]!.text).toBe('run 3 line 60');
  });

  it('a folder that cannot be used drops the lines and counts them; once it can, the count is said first', async () => {
    const path = join(dir, 'blocked');
    writeFileSync(path, 'not a folder');
    const log = { dir: path, maxBytes: 1 << 20, keep: 1, instance: 2 };
    expect(await runner.run(sh('echo a; echo b; echo c >&2; exit 1'), ENV, 5000, log)).toMatchObject({ code: 1, last: 'c' });
    unlinkSync(path);
    await runner.run(sh('echo d'), ENV, 5000, log);
    expect(read(join(path, 'current'))).toEqual([
      { stream: 'ham', instance: 0, text: expect.stringMatching(/^\[ham: 3 lines dropped: the log could not be written \(.+\)\]$/) },
      { stream: 'out', instance: 2, text: 'd' },
    ]);
  });

  it('a `current` that is a FIFO is never waited on: the check is answered, its lines counted as dropped', async () => {
    const log = { dir: join(dir, 'fifo'), maxBytes: 1 << 20, keep: 1, instance: 3 };
    mkdirSync(log.dir, { mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', join(log.dir, 'current')]);
    expect(await runner.run(sh('echo stuck?'), ENV, 5000, log)).toMatchObject({ code: 0, last: 'stuck?' });
    // The runner is not stuck either: the next check is answered.
    expect(await runner.run(sh('exit 3'), ENV, 5000)).toMatchObject({ code: 3 });
  });
});
