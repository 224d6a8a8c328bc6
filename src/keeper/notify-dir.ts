// The notify socket of an entity run as another user. That user cannot enter the 0700 home, and an abstract
// name is listed in /proc/net/unix for any local user to bind first (while a keeper is replaced, say), so it
// is a pathname socket in a folder only root writes: /run/ham-notify/HASH/ID (HASH: of the home; both folders
// root's, 0711: entered, not listed). The keeper binds it (unlink-then-bind is safe: nobody else can create
// there) and gives it to the entity's user with mode 0600 (keeper-ready.c): only that user and root can send.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HamError } from '../errors.js';

export const NOTIFY_RUN_DIR = '/run/ham-notify';
/** sun_path's room (108 bytes with its NUL). */
const SUN_PATH_MAX = 107;

/** The home's folder under /run/ham-notify: stable for the home's life, so for each entity's. */
export function otherNotifyDir(root: string): string {
  return join(NOTIFY_RUN_DIR, createHash('sha256').update(root).digest('hex').slice(0, 16));
}

/** Entity `id`'s socket: the same path for its whole life (an adopting keeper binds it again). */
export function otherNotifyPath(root: string, id: number): string {
  const p = join(otherNotifyDir(root), String(id));
  // 16 + 1 + 16 + 1 + at most 10 digits: always fits; checked so a change of the layout cannot cut it silently.
  if (Buffer.byteLength(p) > SUN_PATH_MAX)
    throw new HamError({ code: 'spawn-failed', message: `expected a notify socket path of at most ${SUN_PATH_MAX} bytes, got ${p}` });
  return p;
}

/** Make (or check) both folders: real directories, ours, written by nobody else, mode 0711. */
export function ensureOtherNotifyDir(root: string, entity: string): void {
  for (const d of [NOTIFY_RUN_DIR, otherNotifyDir(root)]) {
    try {
      mkdirSync(d, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw problem(entity, d, (e as Error).message);
    }
    const s = lstatSync(d);
    const me = process.geteuid?.() ?? -1;
    if (!s.isDirectory()) throw problem(entity, d, s.isSymbolicLink() ? 'a symbolic link' : 'not a directory');
    if (s.uid !== me) throw problem(entity, d, `owned by uid ${s.uid}`);
    if ((s.mode & 0o7777) !== 0o711) chmodSync(d, 0o711); // ours: our umask may have narrowed it at mkdir
  }
}

function problem(entity: string, dir: string, got: string): HamError {
  return new HamError({
    code: 'spawn-failed',
    entity,
    message: `expected ${dir} to be a directory of this user (uid ${process.geteuid?.()}) for the notify socket of an entity run as another user, got ${got}`,
  });
}
