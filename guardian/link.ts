// The beat between the HAM and its Guardian over the IPC pipe that joins
// them. Death is seen at once (the pipe closes, or the child exits); a hang
// is a partner that neither idles nor answers for longer than `hangMs`.
//
// A quiet pair: a Node wake-up costs ~0.1-0.3 ms of CPU, so an idle pair must
// not beat. Each side runs a tiny C watch (guardian/watch.c) on its partner:
// a main thread asleep in epoll_wait is an idle event loop, proof of life for
// free. Only when the partner has not been seen idle for 1.5 watch periods
// (it is busy, stopped or stuck) does this side probe it over the pipe, every
// hangMs/3, until it answers or the threshold passes. A side with a watch
// tells its partner `quiet` (stop beating unasked); without one (no compiler
// at install, a kernel that hides wait channels, an older partner) both beat
// every hangMs/3 as before.
//
// A watchdog that fires late was itself starved (a VM pause, a stalled
// machine): the partner's beats may be sitting unread in the pipe, so it
// grants a fresh window instead of declaring the partner hung. Without this,
// both sides of a paused pair would kill each other on resume.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { WATCH_BINARY } from '../src/paths.js';
import type { ProcId } from '../src/proc/procfs.js';

export type LinkMessage = { t: 'beat' } | { t: 'ready' } | { t: 'exit' } | { t: 'probe' } | { t: 'quiet' } | { t: 'loud' };

export interface Beater {
  stop(): void;
  /** The partner spoke: every message is a sign of life; a probe is answered. */
  heard(m?: LinkMessage): void;
}

export function startBeating(send: (m: LinkMessage) => void, hangMs: number, onHung: () => void, partner?: ProcId): Beater {
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

  // Our judgement of the partner: armed always without a watch, only while it is busy with one.
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
        if (now - last >= hangMs) return onHung();
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

  let watch: ChildProcess | undefined;
  const blind = (): void => {
    // Without a watch: judge by beats, and ask the partner to beat unasked.
    watch = undefined;
    probe(false);
    if (stopped) return;
    trySend({ t: 'loud' });
    last = Math.max(last, performance.now() - period);
    arm();
  };
  const watched = partner && existsSync(WATCH_BINARY) ? startWatch(partner, period) : undefined;
  if (watched) {
    watch = watched.child;
    // The watch says "idle" at least every 32 periods: silent for 3 times that, it is stuck
    // (stopped, starved): kill it and beat instead (a stuck watch would hide a hung partner).
    // A line only notes the time: re-arming a timer on each line would leave libuv's timer at
    // the cleared deadline, an extra wake-up of an idle pair; the timer re-arms itself instead.
    const silentMs = 96 * period;
    let heardAt = performance.now();
    let silence: NodeJS.Timeout | undefined;
    const checkSilence = (): void => {
      if (watch !== watched.child || stopped) return;
      const left = heardAt + silentMs - performance.now();
      if (left > 0) {
        silence = setTimeout(checkSilence, left);
        return;
      }
      watched.child.kill('SIGKILL');
      blind();
    };
    const heardWatch = (): void => {
      heardAt = performance.now();
    };
    silence = setTimeout(checkSilence, silentMs);
    watched.onLine((line) => {
      if (watch !== watched.child || stopped) return;
      heardWatch();
      if (line === 'idle') {
        last = performance.now();
        probe(false);
        disarm();
      } else if (line.startsWith('busy ')) {
        const [age, at] = line.slice(5).split(' ').map(Number);
        // Read late (we were stalled or busy ourselves): what it saw says nothing about now.
        const lateBy = monotonicMs() - (at ?? 0);
        last = Math.max(last, lateBy > period || !(age! >= 0) ? performance.now() : performance.now() - age!);
        probe(true);
        arm();
      } else if (line === 'blind') {
        blind();
      }
    });
    watched.onExit(() => {
      clearTimeout(silence);
      if (watch === watched.child) blind();
    });
    trySend({ t: 'quiet' });
  } else {
    arm();
  }
  loud();

  return {
    stop: () => {
      stopped = true;
      quiet();
      disarm();
      probe(false);
      const w = watch;
      watch = undefined;
      w?.kill('SIGKILL');
    },
    heard: (m) => {
      last = performance.now();
      if (m?.t === 'probe') trySend({ t: 'beat' });
      else if (m?.t === 'quiet') quiet();
      else if (m?.t === 'loud') loud();
    },
  };
}

/** CLOCK_MONOTONIC in ms, the watch's clock (libuv's hrtime reads the same clock). */
const monotonicMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

interface Watch {
  child: ChildProcess;
  onLine(f: (line: string) => void): void;
  onExit(f: () => void): void;
}

/** The C watch on `partner`, sampling every `periodMs`; undefined if it cannot be started. */
function startWatch(partner: ProcId, periodMs: number): Watch | undefined {
  let child: ChildProcess;
  try {
    child = spawn(WATCH_BINARY, [String(partner.pid), String(partner.start), String(periodMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  } catch {
    return undefined;
  }
  const lines: ((line: string) => void)[] = [];
  const exits: (() => void)[] = [];
  let buf = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      for (const f of lines) f(line);
    }
    if (buf.length > 256) buf = ''; // not a line of ours
  });
  let gone = false;
  const exited = (): void => {
    if (gone) return;
    gone = true;
    for (const f of exits) f();
  };
  child.once('error', exited);
  child.once('exit', exited);
  return { child, onLine: (f) => lines.push(f), onExit: (f) => exits.push(f) };
}
