// The Node log writer (execute actions, readiness commands), written off the
// loop by its folder's sink: rotation as the keepers rotate, a bound on what
// waits (beyond it lines are dropped, counted, and said in one `ham` line),
// and a log that cannot be written (a FIFO as `current`) counted the same way.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLogLine } from '../../src/logs/line.js';
import { CARRIED_MAX, PENDING_MAX_BYTES, sinksHeld } from '../../src/logs/sink.js';
import { LogWriter } from '../../src/logs/writer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const texts = (file: string): string[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => parseLogLine('e', l)!.line)
    : [];
const NOTE = /^\[ham: (\d+) lines dropped: the log could not be written \((.+)\)\]$/;

describe('the Node log writer', () => {
  it('rotates at maxBytes, keeping `keep` files, newest lines in current', async () => {
    const w = new LogWriter(dir, { maxBytes: 1000, keep: 2 }, 3);
    for (let i = 0; i < 100; i++) w.write(0, Buffer.from(`line ${String(i).padStart(3, '0')}\n`));
    await w.end();
    for (const f of ['current', '1', '2']) expect(statSync(join(dir, f)).size).toBeLessThanOrEqual(1000);
    expect(existsSync(join(dir, '3'))).toBe(false);
    const kept = [...texts(join(dir, '2')), ...texts(join(dir, '1')), ...texts(join(dir, 'current'))];
    const last = Number(kept.at(-1)!.slice(5));
    expect(last).toBe(99);
    expect(kept).toEqual(kept.map((_l, i) => `line ${String(last - kept.length + 1 + i).padStart(3, '0')}`)); // in order, none missing
  });

  it('beyond the bound of what waits, lines are dropped, counted and said before the next line written', async () => {
    const w = new LogWriter(dir, { maxBytes: 1 << 30, keep: 1 }, 0);
    const line = `${'z'.repeat(99)}\n`;
    const total = Math.ceil((3 * PENDING_MAX_BYTES) / line.length);
    w.write(1, Buffer.from(line.repeat(total))); // at once: more than the bound waits before any write
    await w.end();
    w.write(1, Buffer.from('after\n'));
    await w.end();
    const got = texts(join(dir, 'current'));
    const notes = got.filter((l) => NOTE.test(l));
    expect(notes.length).toBe(1);
    const dropped = Number(NOTE.exec(notes[0]!)![1]);
    expect(dropped).toBeGreaterThan(0);
    expect(got.filter((l) => l === 'z'.repeat(99)).length + dropped).toBe(total); // every line written or counted
    expect(got.at(-1)).toBe('after');
    expect(got.at(-2)).toBe(notes[0]);
  });

  it('a log that cannot be written (a FIFO as current, no reader) is counted, never waited on', async () => {
    mkdirSync(dir, { recursive: true });
    const fifo = join(dir, 'current');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    const w = new LogWriter(dir, { maxBytes: 1 << 20, keep: 1 }, 0);
    w.write(0, Buffer.from('one\ntwo\n'));
    await w.end(); // resolves: the open failed at once instead of blocking
    expect(sinksHeld()).toEqual({ sinks: 0, carried: 1 }); // idle: its sink forgotten, only its drop count kept
    rmSync(fifo);
    w.write(0, Buffer.from('three\n'));
    await w.end();
    const got = texts(fifo);
    expect(got).toEqual([expect.stringMatching(NOTE), 'three']);
    expect(NOTE.exec(got[0]!)!.slice(1)).toEqual(['2', 'ENXIO']);
    expect(sinksHeld()).toEqual({ sinks: 0, carried: 0 });
  });

  it('folders never written again keep no sink, and at most CARRIED_MAX drop counts', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, '');
    for (let i = 0; i < CARRIED_MAX + 5; i++) {
      const w = new LogWriter(join(file, `d${i}`), { maxBytes: 1 << 20, keep: 1 }, 0);
      w.write(0, Buffer.from('lost\n'));
      await w.end(); // mkdir fails (ENOTDIR): counted
    }
    expect(sinksHeld()).toEqual({ sinks: 0, carried: CARRIED_MAX });
  });
});
