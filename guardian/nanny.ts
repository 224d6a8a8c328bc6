// A daemon's side of its nanny (guardian/nanny.c, its parent): tell it whom
// to alert of our hangs, hear when it is gone, and hear the alerts that our
// partner's nanny sends us (SIGUSR2: "your partner is stopped or busy: probe it").
import { connect, type Socket } from 'node:net';
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
 * time), and our nanny's socket, named in HAM_NANNY (not passed on to what we spawn: `off`,
 * which asks for no nannies, is).
 */
export function initNanny(): void {
  process.on('SIGUSR2', () => alerted?.());
  const name = process.env.HAM_NANNY;
  if (!name || name === 'off') return;
  delete process.env.HAM_NANNY;
  ours = open(name);
}

/** Our nanny, while it lives; undefined without one. */
export function ourNanny(): Nanny | undefined {
  return ours;
}

/** Who hears the alerts (one beater at a time); undefined: nobody. */
export function onAlert(f: (() => void) | undefined): void {
  alerted = f;
}

function open(name: string): Nanny {
  let gone = false;
  const watchers = new Set<() => void>();
  const socket: Socket = connect({ path: `\0${name}` });
  socket.unref(); // it must not keep a stopping daemon alive
  const lost = (): void => {
    if (gone) return;
    gone = true;
    socket.destroy();
    for (const f of [...watchers]) f();
  };
  socket.on('error', lost);
  socket.on('close', lost);
  socket.on('end', lost);
  socket.on('data', () => undefined); // the nanny never writes; reading is how its end is seen
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
