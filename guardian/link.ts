// The beat between the HAM and its Guardian over the IPC pipe that joins
// them. Death is seen at once (the pipe closes, or the child exits); a hang
// is a partner silent for longer than `hangMs`. Each side beats every
// hangMs/4, which costs a few wake-ups a second and no /proc polling.
export type LinkMessage = { t: 'beat' } | { t: 'ready' } | { t: 'exit' };

export interface Beater {
  stop(): void;
  /** Note that the partner spoke. */
  heard(): void;
}

export function startBeating(send: (m: LinkMessage) => void, hangMs: number, onHung: () => void): Beater {
  let last = Date.now();
  const period = Math.max(10, Math.floor(hangMs / 4));
  const beat = setInterval(() => {
    try {
      send({ t: 'beat' });
    } catch {
      /* the pipe is closing; the close handler acts */
    }
  }, period);
  // Check exactly when the partner's silence would reach hangMs.
  let watchdog: NodeJS.Timeout;
  const arm = (): void => {
    clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      const silent = Date.now() - last;
      if (silent >= hangMs) onHung();
      else arm();
    }, Math.max(1, hangMs - (Date.now() - last)));
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
