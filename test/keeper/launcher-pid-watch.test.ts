// The pid watch for keepers not yet heard of (src/keeper/pid-watch.ts) and the
// marker a launcher's child leaves (readMarker), on real processes and files.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readMarker } from '../../src/keeper/launcher.js';
import { PidWatch } from '../../src/keeper/pid-watch.js';
import { procId } from '../../src/proc/procfs.js';
import { waitFor } from '../helpers/ham.js';

const started: number[] = [];
const watches: PidWatch[] = [];
afterEach(() => {
  for (const pid of started.splice(0))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const w of watches.splice(0)) w.close();
});

function sleeper(): number {
  const c = spawn('sleep', ['1000'], { stdio: 'ignore' });
  started.push(c.pid!);
  return c.pid!;
}

describe('PidWatch', () => {
  it('reports a watched process once when it dies; a settled one never; a reused pid is not taken for it', async () => {
    const w = new PidWatch();
    watches.push(w);
    const [a, b] = [sleeper(), sleeper()];
    const gone: string[] = [];
    w.watch('a', procId(a)!, 60_000, () => gone.push('a'));
    w.watch('b', procId(b)!, 60_000, () => gone.push('b'));
    w.watch('other', { pid: a, start: procId(a)!.start + 1 }, 60_000, () => gone.push('other')); // not this process
    w.settle('b');
    expect([w.has('a'), w.has('b')]).toEqual([true, false]);
    await waitFor('a start time that is not its own seen as gone', () => gone.includes('other'));
    process.kill(b, 'SIGKILL');
    process.kill(a, 'SIGKILL');
    await waitFor('a reported', () => gone.includes('a'));
    await waitFor('nothing left to watch', () => !w.has('a'));
    expect(gone.sort()).toEqual(['a', 'other']);
  });

  it('never gives up: past its first stretch a watch is polled seldom, and still reported when its process dies', async () => {
    const w = new PidWatch({ slowPollMs: 100 });
    watches.push(w);
    const a = sleeper();
    let called = 0;
    w.watch('a', procId(a)!, 0, () => (called += 1));
    await waitFor('past its first stretch', () => w.slow() === 1);
    expect(w.has('a')).toBe(true);
    process.kill(a, 'SIGKILL');
    await waitFor('a reported', () => called === 1);
    expect(w.has('a')).toBe(false);
  });
});

describe('readMarker', () => {
  it("reads the launched child's pid and start time; tells no marker from an empty or junk one", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ham-marker-'));
    try {
      mkdirSync(join(dir, 'k'));
      expect(readMarker(join(dir, 'k'))).toBe('none');
      writeFileSync(join(dir, 'k', 'spawned'), '');
      expect(readMarker(join(dir, 'k'))).toBe('old');
      writeFileSync(join(dir, 'k', 'spawned'), '12x 5\n');
      expect(readMarker(join(dir, 'k'))).toBe('old');
      writeFileSync(join(dir, 'k', 'spawned'), '4242 123456789\n');
      expect(readMarker(join(dir, 'k'))).toEqual({ pid: 4242, start: 123456789 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
