// The folder of the notify sockets of entities run as another user (notify-dir.ts, review M4): made 0711,
// ours; a symlink or another user's folder in its place is refused, naming it; the path always fits sun_path.
import { chownSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureOtherNotifyDir, NOTIFY_RUN_DIR, otherNotifyDir, otherNotifyPath } from '../../src/keeper/notify-dir.js';

const root = process.getuid?.() === 0;
const made: string[] = [];
afterEach(() => {
  for (const p of made.splice(0)) rmSync(p, { recursive: true, force: true });
});

function fakeHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'ham-notify-dir-'));
  made.push(h, otherNotifyDir(h));
  return h;
}

describe('notify folder for entities run as another user', () => {
  it('is per home, per entity, and fits sun_path', () => {
    const a = otherNotifyPath('/home/a/.ham', 7);
    expect(a).toMatch(/^\/run\/ham-notify\/[0-9a-f]{16}\/7$/);
    expect(otherNotifyPath('/home/a/.ham', 7)).toBe(a);
    expect(otherNotifyPath('/home/b/.ham', 7)).not.toBe(a);
    expect(Buffer.byteLength(otherNotifyPath('/x'.repeat(500), 4294967295))).toBeLessThanOrEqual(107);
  });

  it.skipIf(!root)('is made 0711 and ours; a symlink or another owner in its place is refused, naming it', () => {
    const h = fakeHome();
    ensureOtherNotifyDir(h, 'e');
    for (const d of [NOTIFY_RUN_DIR, otherNotifyDir(h)]) {
      const s = lstatSync(d);
      expect([s.isDirectory(), s.uid, s.mode & 0o7777]).toEqual([true, 0, 0o711]);
    }
    rmSync(otherNotifyDir(h), { recursive: true });
    const elsewhere = mkdtempSync(join(tmpdir(), 'ham-notify-elsewhere-'));
    made.push(elsewhere);
    symlinkSync(elsewhere, otherNotifyDir(h));
    expect(() => ensureOtherNotifyDir(h, 'e')).toThrow(/expected \/run\/ham-notify\/[0-9a-f]{16} to be a directory .* got a symbolic link/);
    rmSync(otherNotifyDir(h));
    mkdirSync(otherNotifyDir(h), { mode: 0o711 });
    chownSync(otherNotifyDir(h), 65534, 65534);
    expect(() => ensureOtherNotifyDir(h, 'e')).toThrow(/got owned by uid 65534/);
  });
});
