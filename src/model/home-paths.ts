// Where a HAM home is and what is where in it: the client and the CLI find the
// control socket by it, the daemon everything else. Pure (paths only, nothing
// touched): making and judging the folders is home.ts's.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface HomePaths {
  root: string;
  store: string;
  socket: string;
  inbox: string;
  keepers: string;
  logs: string;
  daemonLog: string;
  /** Held (flock) by a daemon from opening the store to claiming the HAM role. */
  claimLock: string;
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
    claimLock: join(root, 'run', 'claim.lock'),
  };
}
