// The beat between the HAM and its Guardian over the IPC pipe that joins
// them. Death is seen at once (the pipe closes, or the child exits); a hang
// is a partner that neither idles nor answers for longer than `hangMs`.
//
// A quiet pair: a Node wake-up costs ~0.1-0.3 ms of CPU, so an idle pair must
// not beat, and a C process sampling /proc costs ~90 us a wake-up whatever its
// period, so nothing may sample either. Each daemon runs under a nanny
// (guardian/nanny.c, its parent), which learns of its stops (SIGCHLD) and of
// its CPU use (a CPU-time timer) as events, and alerts the partner (SIGUSR2,
// guardian/nanny.ts): a side whose nanny alerts says `watched`, and its partner
// then judges it by alerts alone (mode `alerts`): alerted, it probes over the
// pipe every hangMs/3 until an answer or the threshold passes.
// Without a nanny (none built, HAM_NANNY=off, or it died: `unwatched`), a side
// runs a C watch (guardian/watch.c) on its partner, which samples it: a main
// thread asleep in epoll_wait is an idle event loop, proof of life; not seen
// idle for 1.5 watch periods, the side probes likewise (mode `watch`). A side
// that judges by alerts or a watch tells its partner `quiet` (stop beating
// unasked); without either (no compiler at install, a kernel that hides wait
// channels) both beat every hangMs/3 (mode `beats`).
//
// A watchdog that fires late was itself starved (a VM pause, a stalled
// machine): the partner's beats may be sitting unread in the pipe, so it
// grants a fresh window instead of declaring the partner hung. Without this,
// both sides of a paused pair would kill each other on resume.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { WATCH_BINARY } from '../src/paths.js';
import { onAlert, type Nanny } from './nanny.js';
import { isStopped, type ProcId } from '../src/proc/procfs.js';

export type LinkMessage =
  { t: 'beat' } | { t: 'ready'; pid?: number } | { t: 'exit' } | { t: 'probe' } | { t: 'quiet' } | { t: 'loud' } | { t: 'watched' } | { t: 'unwatched' };

export interface Beater {
  stop(): void;
  /** The partner spoke: every message is a sign of life; a probe is answered. */
  heard(m?: LinkMessage): void;
}

export interface BeatOptions {
  /** The partner already said `watched` (its nanny alerts us). */
  partnerWatched?: boolean;
  /** Our own nanny, to alert the partner of our hangs. */
  nanny?: Nanny;
}

type Mode = 'alerts' | 'watch' | 'beats';

/** `onHung` returns false when the partner is known alive some other way: judged again after a fresh window. */
export function startBeating(send: (m: LinkMessage) => void, hangMs: number, onHung: () => boolean | void, partner?: ProcId, o: BeatOptions = {}): Beater {
  const period = Math.max(10, Math.floor(hangMs / 3));
  const trySend = (m: LinkMessage): void => {
    try {
      send(m);
    } catch {
      /* the pipe is closing; the close handler acts */
    }
  };
  let stopped = false;
  let last = performance.now();

  // Our beats, unasked, until the partner says it watches us.
  let ticked = last;
  let beat: NodeJS.Timeout | undefined;
  const loud = (): void => {
    if (beat || stopped) return;
    ticked = performance.now();
    beat = setInterval(() => {
      // Our own beat came late: we were stalled (both of a pair SIGSTOPped or frozen together).
      // The watchdog's lateness alone misses a stall that ends just before its deadline.
      const now = performance.now();
      if (now - ticked > period * 1.5) last = now;
      ticked = now;
      trySend({ t: 'beat' });
    }, period);
  };
  const quiet = (): void => {
    clearInterval(beat);
    beat = undefined;
  };

  // Our judgement of the partner: armed always by beats, only while it is suspect otherwise.
  let watchdog: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(watchdog);
    if (stopped) return;
    const due = last + hangMs;
    const armedAt = performance.now();
    watchdog = setTimeout(
      () => {
        const now = performance.now();
        const lateBy = now - Math.max(due, armedAt);
        if (lateBy > period) last = now; // we were the one stalled: fresh window
        if (now - last >= hangMs) {
          if (onHung() !== false) return;
          last = now; // not hung after all (a HAM beating its resume through the store): a fresh window
        }
        arm();
      },
      Math.max(1, due - armedAt),
    );
  };
  const disarm = (): void => {
    clearTimeout(watchdog);
    watchdog = undefined;
  };

  let probing: NodeJS.Timeout | undefined;
  const probe = (on: boolean): void => {
    clearInterval(probing);
    probing = undefined;
    if (!on || stopped) return;
    trySend({ t: 'probe' });
    probing = setInterval(() => trySend({ t: 'probe' }), period);
  };

  let mode: Mode = 'beats';
  // Suspect: alerted (by the partner's nanny) or seen busy (by our watch), not yet answered.
  let suspect = false;
  const calm = (): void => {
    suspect = false;
    probe(false);
    disarm();
  };

  let watch: Watch | undefined;
  const unwatch = (): void => {
    const w = watch;
    watch = undefined; // first: its exit is then not taken for a failed watch
    w?.stop();
  };
  const judgeBy = (m: Mode): void => {
    if (stopped) return;
    if (m !== 'watch') unwatch();
    if (m === 'watch' && !watch) {
      watch = partner && existsSync(WATCH_BINARY) ? startWatch(partner, period, watchLine, watchLost) : undefined;
      if (!watch) m = 'beats';
    }
    mode = m;
    if (m === 'beats') {
      // Judge by beats, and ask the partner to beat unasked.
      probe(false);
      suspect = false;
      trySend({ t: 'loud' });
      last = Math.max(last, performance.now() - period);
      arm();
    } else {
      calm();
      trySend({ t: 'quiet' });
    }
  };
  const watchLost = (w: Watch): void => {
    if (watch === w) {
      watch = undefined;
      judgeBy('beats');
    }
  };
  const watchLine = (w: Watch, line: string): void => {
    if (watch !== w || stopped) return;
    if (line === 'idle') {
      last = performance.now();
      calm();
    } else if (line.startsWith('busy ')) {
      const [age, at] = line.slice(5).split(' ').map(Number);
      // Read late (we were stalled or busy ourselves): what it saw says nothing about now.
      const lateBy = monotonicMs() - (at ?? 0);
      last = Math.max(last, lateBy > period || !(age! >= 0) ? performance.now() : performance.now() - age!);
      suspect = true;
      probe(true);
      arm();
    } else if (line === 'blind') {
      judgeBy('beats');
    }
  };

  // The partner's nanny alerts us: probe it from now (again only once it has answered).
  onAlert(() => {
    if (stopped || mode !== 'alerts' || suspect) return;
    suspect = true;
    // Not stopped: a busy alert, sent once the nanny had seen it out of epoll_wait for half a period.
    last = performance.now() - (partner && !isStopped(partner.pid) ? period / 2 : 0);
    probe(true);
    arm();
  });

  // Our nanny alerts the partner of our hangs; once it is gone, the partner must watch us.
  const unsubscribe = partner && o.nanny?.tell(partner, period) ? o.nanny.onGone(() => !stopped && trySend({ t: 'unwatched' })) : undefined;
  if (unsubscribe) trySend({ t: 'watched' });
  judgeBy(o.partnerWatched ? 'alerts' : 'watch');
  loud();

  return {
    stop: () => {
      stopped = true;
      onAlert(undefined);
      unsubscribe?.();
      quiet();
      disarm();
      probe(false);
      unwatch();
    },
    heard: (m) => {
      last = performance.now();
      // An answer clears an alert; a watch's suspicion lasts until it sees the partner idle.
      if (suspect && mode === 'alerts') calm();
      if (m?.t === 'probe') trySend({ t: 'beat' });
      else if (m?.t === 'quiet') quiet();
      else if (m?.t === 'loud') loud();
      else if (m?.t === 'watched' && mode !== 'alerts') judgeBy('alerts');
      else if (m?.t === 'unwatched' && mode === 'alerts') judgeBy('watch');
    },
  };
}

/** CLOCK_MONOTONIC in ms, the watch's clock (libuv's hrtime reads the same clock). */
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

interface Watch {
  stop(): void;
}

/**
 * The C watch on `partner`, sampling every `periodMs`; undefined if it cannot be started. It says
 * "idle" at least every 32 periods: silent for 3 times that, it is stuck (stopped, starved), and
 * is killed and lost (a stuck watch would hide a hung partner). A line only notes the time:
 * re-arming a timer on each line would leave libuv's timer at the cleared deadline, an extra
 * wake-up; the timer re-arms itself instead.
 */
function startWatch(partner: ProcId, periodMs: number, onLine: (w: Watch, line: string) => void, onLost: (w: Watch) => void): Watch | undefined {
  let child: ChildProcess;
  try {
    // The home in its argv too: whoever counts a home's processes by their command lines finds it.
    const home = process.argv[process.argv.indexOf('--home') + 1] ?? '';
    child = spawn(WATCH_BINARY, [String(partner.pid), String(partner.start), String(periodMs), home], { stdio: ['ignore', 'pipe', 'inherit'] });
  } catch {
    return undefined;
  }
  const silentMs = 96 * periodMs;
  let heardAt = performance.now();
  let silence: NodeJS.Timeout | undefined;
  let gone = false;
  const w: Watch = {
    stop: () => {
      gone = true;
      clearTimeout(silence);
      child.kill('SIGKILL');
    },
  };
  const lost = (): void => {
    if (gone) return;
    w.stop();
    onLost(w);
  };
  const checkSilence = (): void => {
    if (gone) return;
    const left = heardAt + silentMs - performance.now();
    if (left > 0) silence = setTimeout(checkSilence, left);
    else lost();
  };
  silence = setTimeout(checkSilence, silentMs);
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      heardAt = performance.now();
      if (!gone) onLine(w, line);
    }
    if (buf.length > 256) buf = ''; // not a line of ours
  });
  child.once('error', lost);
  child.once('exit', lost);
  return w;
}
