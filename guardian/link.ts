// The beat between the HAM and its Guardian over the IPC pipe that joins
// them. Death is seen at once (the pipe closes, or the child exits); a hang
// is a partner silent for longer than `hangMs`. Each side beats every
// hangMs/3 (a healthy partner can miss one beat and still not look hung):
// a few wake-ups a second, no /proc polling.
//
// A watchdog that fires late was itself starved (a VM pause, a stalled
// machine): the partner's beats may be sitting unread in the pipe, so it
// grants a fresh window instead of declaring the partner hung. Without this,
// both sides of a paused pair would kill each other on resume.
export type LinkMessage = { t: 'beat' } | { t: 'ready' } | { t: 'exit' };

export interface Beater {
  stop(): void;
  /** Note that the partner spoke. */
  heard(): void;
}

export function startBeating(send: (m: LinkMessage) => void, hangMs: number, onHung: () => void): Beater {
  let last = Date.now();
  const period = Math.max(10, Math.floor(hangMs / 3));
  let ticked = last;
  const beat = setInterval(() => {
    // Our own beat came late: we were stalled (both of a pair SIGSTOPped or frozen together).
    // The watchdog's lateness alone misses a stall that ends just before its deadline.
    const now = Date.now();
    if (now - ticked > period * 1.5) last = now;
    ticked = now;
    try {
      send({ t: 'beat' });
    } catch {
      /* the pipe is closing; the close handler acts */
    }
  }, period);
  let watchdog: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const due = last + hangMs;
    const armedAt = Date.now();
    watchdog = setTimeout(() => {
      const now = Date.now();
      const lateBy = now - Math.max(due, armedAt);
      if (lateBy > period) last = now; // we were the one stalled: fresh window
      if (now - last >= hangMs) return onHung();
      arm();
    }, Math.max(1, due - armedAt));
  };
  arm();
  return {
    stop: () => {
      clearInterval(beat);
      clearTimeout(watchdog);
    },
    heard: () => {
      last = Date.now();
    },
  };
}
