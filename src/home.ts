// The HAM home: one folder per HAM pair, 0700, holding the store, the control
// socket, the keepers' inbox and FIFOs, and logs. Every path the daemon touches
// is derived here from the home and a validated entity name, never from a
// request, so nothing can reach outside it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { homePaths, type HomePaths } from './model/home-paths.js';
import { checkHomeRoot, checkPath, checkRun, checkTree, ensureFolder } from './home-check.js';

export { homePaths, resolveHome, type HomePaths } from './model/home-paths.js';

/**
 * Create the home and its folders, 0700, and judge everything ham opens in
 * it (see home-check.ts): a start is refused, naming the path, rather than
 * trusting what someone else planted. The detectors folder is not judged
 * here: the detector host judges it (and the folders above it) at every run,
 * and refuses the detectors, not the HAM.
 *
 * A Guardian (role 'guardian') judges only what it opens itself (the home,
 * the store and its files, the folders it reads, the socket), never the
 * trees: the HAM that started it judged those at its start and tolerates
 * what appears in them since (a keeper's log is judged when it is opened,
 * FIFOs are opened with O_NOFOLLOW), so a Guardian is no stricter than it
 * and is not killed, spawn after spawn, by junk the HAM serves on with.
 */
export function ensureHome(root: string, role: 'start' | 'guardian' = 'start'): HomePaths {
  const p = homePaths(root);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  checkHomeRoot(root, role === 'start');
  for (const dir of [p.store, join(root, 'run'), p.inbox, p.keepers, p.logs]) ensureFolder(dir);
  for (const file of ['data.mdb', 'lock.mdb']) checkPath(join(p.store, file), 'file');
  checkPath(p.socket, 'socket');
  if (role === 'guardian') return p;
  // What ham made under run/ (its folders, keepers' FIFOs; see checkRun), logs/ and store/.
  checkRun(join(root, 'run'), p.inbox, p.keepers);
  checkTree(p.logs);
  checkTree(p.store);
  return p;
}
