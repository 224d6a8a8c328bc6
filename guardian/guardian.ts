// The Guardian: a warm standby that shares the store with the HAM. It hears
// the HAM's beats over their IPC pipe; when the pipe closes (the HAM died, by
// any signal) or the beats stop (the HAM hung), it takes the HAM role with a
// compare-and-set on the epoch, kills the old HAM if it still exists, and
// becomes the HAM in this same process: no start-up cost on the critical path.
// What "becoming the HAM" runs is handed in by the daemon (src/daemon/serve.ts).
import { HamError } from '../src/errors.js';
import { failpoint } from '../src/failpoints.js';
import type { HomePaths } from '../src/home.js';
import type { Logger } from '../src/log.js';
import type { Roles } from '../src/model/records.js';
import { sealFds } from '../src/proc/fds.js';
import { killIfAlive, procId } from '../src/proc/procfs.js';
import { registerGuardian, resumeCount, takeOver } from '../src/store/roles.js';
import { Store } from '../src/store/store.js';
import { startBeating, type LinkMessage } from './link.js';
import { ourNanny } from './nanny.js';

/** The HAM role just taken, for `serve`. */
export interface Takeover {
  store: Store;
  paths: HomePaths;
  epoch: number;
  log: Logger;
  fresh: false;
  previous: Roles;
}

export interface GuardianOptions {
  paths: HomePaths;
  epoch: number;
  log: Logger;
  /** Serve as the HAM in this process, once the role is ours. */
  serve: (t: Takeover) => Promise<void>;
}

export function runGuardian(o: GuardianOptions): void {
  const store = new Store(o.paths.store);
  sealFds(); // the store's fds (and any passed to us) are not for what we spawn
  const me = procId(process.pid)!;
  const { hangMs } = store.settings();
  // With a callback, a send on a closed channel reports to it instead of
  // raising an uncaught 'error' (the HAM may die while we boot).
  const send = (m: LinkMessage): void => {
    if (process.connected) process.send?.(m, undefined, {}, () => undefined);
  };
  try {
    registerGuardian(store, o.epoch, me);
  } catch (e) {
    o.log('warn', 'not registered as guardian: exiting', { error: (e as Error).message });
    process.exit(0);
  }
  // The HAM this Guardian serves: the only process it may ever kill.
  const myHam = store.roles().ham;
  let done = false;
  const takeover = (reason: string, hung: boolean): void => {
    if (done) return;
    done = true;
    beater.stop();
    if (hung) {
      // A HAM hung inside a write transaction holds LMDB's writer lock, so
      // the compare-and-set below would wait forever: kill it first. Its
      // death releases the lock (LMDB's mutexes are robust).
      store.refresh();
      const r = store.roles();
      if (r.epoch !== o.epoch || r.guardian?.pid !== me.pid) {
        o.log('warn', 'no takeover: roles moved on', { reason, epoch: r.epoch });
        process.exit(0);
      }
      if (myHam && r.ham?.pid === myHam.pid) killIfAlive(myHam);
    }
    let claimed;
    try {
      claimed = takeOver(store, o.epoch, me, reason);
    } catch (e) {
      const code = e instanceof HamError ? e.code : 'internal';
      o.log(code === 'stopping' ? 'info' : 'warn', 'no takeover', { reason, error: (e as Error).message });
      process.exit(0);
    }
    failpoint('takeover-committed'); // crash tests: the role is ours, its line not yet logged
    const old = claimed.previous.ham;
    killIfAlive(old); // it may be reaped between a check and the kill: ESRCH is not a failed takeover
    if (process.connected) process.disconnect();
    // Its log line: by the HAM, first thing (logTakeover), from the note written with the role.
    o.serve({ store, paths: o.paths, epoch: claimed.epoch, log: o.log, fresh: false, previous: claimed.previous }).catch((e: Error) => {
      o.log('error', 'could not serve as HAM', { error: e.message });
      process.exit(1);
    });
  };
  // A HAM in a long resume (spawned us first, on `ham start`) answers nothing, but beats through the store:
  // silent while its count moves is not hung. Read now: a resume done before we judge excuses nothing.
  let resumed = myHam ? resumeCount(store, o.epoch, myHam.pid) : -1;
  let told = false; // said once
  const resuming = (): boolean => {
    const n = myHam ? resumeCount(store, o.epoch, myHam.pid) : -1;
    const moved = n >= 0 && n !== resumed;
    resumed = n;
    if (moved && !told) o.log('info', 'the HAM is silent but resuming (its count moves in the store): not a hang', { count: n });
    told ||= moved;
    return moved;
  };
  const beater = startBeating(
    send,
    hangMs,
    () => (resuming() ? false : takeover(`HAM neither idle nor answering for ${hangMs} ms`, true)),
    myHam ?? undefined,
    {
      nanny: ourNanny(),
    },
  );
  process.on('message', (m: LinkMessage) => {
    beater.heard(m);
    if (m.t === 'exit') {
      o.log('info', 'asked to exit');
      process.exit(0);
    }
  });
  process.on('disconnect', () => takeover('HAM died', false));
  // Our nanny gone (our parent, which told the HAM of our hangs): we keep guarding, the beater tells the HAM
  // `unwatched` (it watches us instead), as the HAM does when it loses its own. Exiting would leave a hung HAM
  // with nobody to take over.
  ourNanny()?.onGone(() => !done && o.log('warn', 'lost its nanny: the HAM watches us instead'));
  // The HAM may have died before these listeners existed ('disconnect' already fired).
  if (!process.connected) return takeover('HAM died while the Guardian started', false);
  send({ t: 'ready', pid: process.pid }); // our pid: the HAM spawned our nanny
}
