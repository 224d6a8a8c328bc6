// A daemon's side of its nanny (guardian/nanny.c, its parent): tell it whom
// to alert of our hangs, hear when it is gone, and hear the alerts that our
// partner's nanny sends us (SIGUSR2: "your partner is stopped or busy: probe it").
import { Socket } from 'node:net';
import type { ProcId } from '../src/proc/procfs.js';

export interface Nanny {
  /** Alert this partner from now on; false when the nanny is gone (watch the partner instead). */
  tell(partner: ProcId, periodMs: number): boolean;
  /** `f` once the nanny is gone; returns the unsubscription. */
  onGone(f: () => void): () => void;
}

let ours: Nanny | undefined;
let alerted: (() => void) | undefined;

/**
 * First thing in a daemon: SIGUSR2 must never kill it (a partner's nanny may alert it at any
 * time), and our nanny's socket: our end of its socketpair, its fd in HAM_NANNY (not passed on
 * to what we spawn: `off`, which asks for no nannies, is). Node makes the fd close-on-exec.
 */
export function initNanny(): void {
  process.on('SIGUSR2', () => alerted?.());
  const name = process.env.HAM_NANNY;
  if (!name || name === 'off') return;
  delete process.env.HAM_NANNY;
  ours = open(Number(name));
}

/** Our nanny, while it lives; undefined without one. */
export function ourNanny(): Nanny | undefined {
  return ours;
}

/** Who hears the alerts (one beater at a time); undefined: nobody. */
export function onAlert(f: (() => void) | undefined): void {
  alerted = f;
}

/** A socket that fails to open (a bad fd) is a nanny gone at once: we are watched instead, never exit. */
function open(fd: number): Nanny {
  let gone = false;
  const watchers = new Set<() => void>();
  let socket: Socket | undefined;
  try {
    if (!Number.isInteger(fd) || fd < 3) throw new Error(`not an fd: ${fd}`);
    socket = new Socket({ fd, readable: true, writable: true });
    socket.unref(); // it must not keep a stopping daemon alive
  } catch {
    gone = true;
  }
  const lost = (): void => {
    if (gone) return;
    gone = true;
    socket?.destroy();
    for (const f of [...watchers]) f();
  };
  if (!socket) return { tell: () => false, onGone: (f) => (f(), () => undefined) };
  socket.on('error', lost);
  socket.on('close', lost);
  socket.on('end', lost);
  socket.on('data', () => undefined); // the nanny writes only `blind` before it closes: reading is how its end is seen
  return {
    tell(partner, periodMs) {
      if (gone) return false;
      socket.write(`partner ${partner.pid} ${partner.start} ${Math.max(1, Math.round(periodMs))}\n`);
      return true;
    },
    onGone(f) {
      if (gone) {
        f();
        return () => undefined;
      }
      watchers.add(f);
      return () => watchers.delete(f);
    },
  };
}
