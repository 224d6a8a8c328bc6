// A HAM's resume runs synchronously (every entity reconciled in one turn:
// seconds for ten thousand), so its loop answers no probe meanwhile. On `ham
// start` its Guardian is spawned first (their Node start-ups overlap) and
// would take that silence for a hang: a takeover of a healthy HAM. So the
// resume beats through the store instead (roles.ts: beatResume), a count its
// Guardian reads before it declares a hang (guardian/guardian.ts).
import { HamError } from '../errors.js';
import { beatResume } from '../store/roles.js';
import type { Store } from '../store/store.js';

export interface ResumeBeats {
  /** Called often by the resume: beats once a quarter of the hang threshold has passed. */
  tick: () => void;
  /** The resume is over: its count says so (-1), and the HAM's own answers speak for it again. */
  done: () => void;
}

export function resumeBeats(store: Store, epoch: number, fenced: (e: HamError) => never): ResumeBeats {
  const every = Math.max(10, store.settings().hangMs / 4);
  let n = 0;
  let next = 0; // the first tick beats: the count is there before the Guardian's first judgement
  const beat = (count: number): void => {
    try {
      beatResume(store, epoch, process.pid, count);
    } catch (e) {
      if (e instanceof HamError && e.code === 'fenced') fenced(e);
      throw e;
    }
  };
  return {
    tick: () => {
      const now = performance.now();
      if (now < next) return;
      next = now + every;
      beat(n++);
    },
    done: () => beat(-1),
  };
}
