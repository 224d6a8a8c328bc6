// Why a connection to the control socket failed, told apart: nothing runs
// (socket absent, connection refused), this user may not open it (EACCES:
// named with the path, our uid and the home's owner), or something else.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { HamError } from '../model/errors.js';

const NOT_RUNNING = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTDIR']);
const DENIED = new Set(['EACCES', 'EPERM']);

function owner(path: string): string {
  for (const p of [path, dirname(path)]) {
    try {
      return `, it belongs to uid ${statSync(p).uid}`;
    } catch {
      /* not visible to us either: try its folder */
    }
  }
  return '';
}

export function connectError(socketPath: string, e: NodeJS.ErrnoException): HamError {
  const code = e.code ?? '';
  if (NOT_RUNNING.has(code)) return new HamError({ code: 'not-running', message: `no HAM serves ${socketPath}`, cause: code });
  if (DENIED.has(code)) {
    const uid = process.getuid?.() ?? -1;
    return new HamError({ code: 'permission-denied', message: `permission denied opening ${socketPath} as uid ${uid}${owner(socketPath)}`, cause: code });
  }
  return new HamError({ code: 'io', message: `cannot connect to ${socketPath}: ${e.message}`, cause: code || undefined });
}
