// A stream detector's stderr as it is kept (src/detector/stream-output.ts):
// its burst taken whole, what comes over its rate dropped and counted, the
// count said on a line of its own before the next chunk kept, and a line
// without its newline written when the detector ends.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STDERR_BURST, STDERR_RATE, StreamStderr } from '../../src/detector/stream-output.js';
import { waitFor } from '../helpers/ham.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-stream-output-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const texts = (): string[] =>
  readFileSync(join(dir, 'talker', 'current'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const m = /^\S+ err 4 (.*)$/.exec(l);
      if (!m) throw new Error(`not a stderr line of instance 4: ${l}`);
      return m[1]!;
    });

describe('a stream detector’s stderr', () => {
  it('keeps its burst, drops and counts what is over its rate, says so on a line of its own, and ends a partial line', async () => {
    const out = new StreamStderr({ dir: join(dir, 'talker'), maxBytes: 10 << 20, keep: 1, instance: 4 });
    const burst = Buffer.alloc(STDERR_BURST - 10, 'a');
    expect(out.take(Buffer.concat([Buffer.from('first\n'), burst.subarray(6)]))).toBe(true); // within the burst
    expect(out.take(Buffer.alloc(STDERR_RATE, 'b'))).toBe(false); // over it: what is left of the burst kept, the rest dropped
    let dropped = out.dropped;
    const keptB = STDERR_RATE - dropped;
    expect(keptB).toBeGreaterThanOrEqual(10);
    // Under its rate again after a moment: the note first (the partial line of a's ended before it), then the chunk.
    const small = Buffer.from('back again\n');
    while (!out.take(small)) {
      dropped += small.length;
      await sleep(20);
    }
    expect(out.dropped).toBe(dropped);
    // 'back again' may have taken every token: 20 ms or more later there are 1,300 bytes of them, so this is kept whole.
    await sleep(20);
    expect(out.take(Buffer.from('no newline'))).toBe(true);
    out.end();
    // Polled, not read at once: the writer may write behind (buffered), never out of order.
    const t = await waitFor('the last line', () => {
      const now = texts();
      return now[now.length - 1] === 'no newline' ? now : undefined;
    });
    expect(t[0]).toBe('first');
    expect(t.slice(-3)).toEqual([`[ham: ${dropped} bytes of stderr dropped: over ${STDERR_RATE} bytes/s]`, 'back again', 'no newline']);
    // The a's: one line, cut at 16 KiB pieces by the writer, nothing lost before the note.
    expect(
      t
        .slice(1, -3)
        .map((l) => l.replace(/ \[ham: line cut at 16384 bytes\]$/, ''))
        .join(''),
    ).toBe('a'.repeat(burst.length - 6) + 'b'.repeat(keptB));
  });

  it('under a sustained flood keeps what its rate allows, cut after whole lines, and counts only the rest', async () => {
    const out = new StreamStderr({ dir: join(dir, 'talker'), maxBytes: 64 << 20, keep: 1, instance: 4 });
    const line = 'x'.repeat(99) + '\n';
    const flood = Buffer.from(line.repeat(20_000)); // 2 MB: far over the burst
    expect(out.take(flood)).toBe(false);
    const burstLines = Math.floor(STDERR_BURST / line.length);
    expect(out.dropped).toBe(flood.length - burstLines * line.length); // the whole burst kept, in whole lines
    // Still flooding a moment later: the tokens earned meanwhile are kept (not the whole chunk dropped).
    await sleep(50);
    const before = out.dropped;
    expect(out.take(flood)).toBe(false);
    const kept = flood.length - (out.dropped - before);
    expect(kept).toBeGreaterThan(0);
    expect(kept % line.length).toBe(0);
    out.end();
    const xs = burstLines + kept / line.length;
    const t = await waitFor('the kept lines', () => {
      const now = texts();
      return now.filter((l) => l === 'x'.repeat(99)).length === xs && now.length === xs + 2 ? now : undefined;
    });
    // Each drop said on a line of its own, before what was kept next (and at the end).
    const notes = t.filter((l) => l !== 'x'.repeat(99));
    expect(notes).toEqual([
      `[ham: ${flood.length - burstLines * line.length} bytes of stderr dropped: over ${STDERR_RATE} bytes/s]`,
      `[ham: ${flood.length - kept} bytes of stderr dropped: over ${STDERR_RATE} bytes/s]`,
    ]);
    expect(t.indexOf(notes[0]!)).toBe(burstLines);
  });
});
