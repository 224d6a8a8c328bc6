// An inbox with more files than one drain looks at: stale temp files (keepers
// killed mid-write) are removed, and a real record beyond the first slice is
// still reached (the slices rotate rather than re-reading the first).
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Inbox, type InboxItem } from '../../src/keeper/inbox.js';
import { waitFor } from '../helpers/ham.js';

describe('a big inbox', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('drops stale temp files, keeps fresh ones, and reaches a record past the first slice', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ham-inbox-'));
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (let i = 1; i <= 6000; i++) {
      const f = join(dir, `.1-1-${i}`);
      writeFileSync(f, 'K 1');
      utimesSync(f, hourAgo, hourAgo);
    }
    writeFileSync(join(dir, '.2-1-1'), 'K 1'); // being written right now
    // 'later' for every record of keeper 1, so they stay: only the rotation reaches keeper 9.
    for (let i = 1; i <= 3000; i++) writeFileSync(join(dir, `1-1-${i}`), `K ${i}\n`);
    writeFileSync(join(dir, '9-1-1'), 'K 4242\n');
    const seen: InboxItem[] = [];
    const inbox = new Inbox(
      dir,
      (item) => (item.id === 9 ? (seen.push(item), 'done') : 'later'),
      () => undefined,
    );
    inbox.drain();
    await waitFor('the record past the first slice', () => seen.length === 1);
    expect(seen[0]!.record).toEqual({ kind: 'K', pid: 4242 });
    await waitFor('stale temp files removed', () => readdirSync(dir).filter((f) => f.startsWith('.')).length === 1);
    expect(readdirSync(dir)).toContain('.2-1-1');
    inbox.close();
  });
});
