// `ham start` while a `ham stop --all` with no HAM runs (it holds the HAM role
// for the stop): the start waits for it to finish, saying so, instead of a
// daemon that loses the claim and no HAM after (review L3).
import { HamError } from '../model/errors.js';
import { DAEMON_MAIN, findProcesses } from './launch.js';

/** An offline stop is bounded by its entities' stop timeouts; one that runs longer than this is named in an error. */
const WAIT_MS = 10 * 60_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid of an offline stop (`main.js --role stop-all`) on this home, if one runs. */
export function offlineStop(home: string): number | undefined {
  return findProcesses((a) => {
    const h = a.indexOf('--home');
    const r = a.indexOf('--role');
    return a.includes(DAEMON_MAIN) && h >= 0 && a[h + 1] === home && r >= 0 && a[r + 1] === 'stop-all';
  })[0];
}

/** Wait for an offline stop on `home` to end (told once on stderr; false: none ran); refused after WAIT_MS. */
export async function waitOfflineStop(home: string): Promise<boolean> {
  let pid = offlineStop(home);
  if (pid === undefined) return false;
  process.stderr.write(`ham: an offline \`ham stop --all\` (pid ${pid}) is under way on ${home}: starting when it ends\n`);
  const deadline = Date.now() + WAIT_MS;
  while ((pid = offlineStop(home)) !== undefined) {
    if (Date.now() > deadline)
      throw new HamError({
        code: 'timeout',
        message: `expected the offline \`ham stop --all\` (pid ${pid}) on ${home} to end within ${WAIT_MS / 60_000} min; it still runs`,
      });
    await sleep(50);
  }
  return true;
}
