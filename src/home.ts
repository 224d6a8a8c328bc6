// The HAM home: one folder per HAM pair, 0700, holding the store, the control
// socket, the keepers' inbox and FIFOs, and logs. Every path the daemon touches
// is derived here from the home and a validated entity name, never from a
// request, so nothing can reach outside it.
import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HamError } from './errors.js';

export interface HomePaths {
  root: string;
  store: string;
  socket: string;
  inbox: string;
  keepers: string;
  logs: string;
  daemonLog: string;
}

export function resolveHome(flag?: string): string {
  const chosen = flag ?? process.env.HAM_HOME ?? join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'ham');
  return resolve(chosen);
}

export function homePaths(root: string): HomePaths {
  return {
    root,
    store: join(root, 'store'),
    socket: join(root, 'ham.sock'),
    inbox: join(root, 'run', 'inbox'),
    keepers: join(root, 'run', 'keepers'),
    logs: join(root, 'logs'),
    daemonLog: join(root, 'logs', 'ham.log'),
  };
}

/** Create the home and its folders, 0700; refuse a home others can write. */
export function ensureHome(root: string): HomePaths {
  const p = homePaths(root);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = statSync(root);
  if (st.uid !== process.getuid?.()) {
    throw new HamError({ code: 'io', message: `home ${root} belongs to uid ${st.uid}, expected ${process.getuid?.()}` });
  }
  if ((st.mode & 0o077) !== 0) chmodSync(root, 0o700);
  for (const dir of [p.store, p.inbox, p.keepers, p.logs]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return p;
}
