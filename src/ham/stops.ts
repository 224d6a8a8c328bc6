// Graceful stops: the entity's stop signal, then SIGKILL of its process group
// after its stop timeout; `ham stop --all` stops in waves (dependants before
// what they require, groups in reverse order) and then lets every keeper go.
import type { EntityRecord } from '../store/types.js';
import { releaseKeepers } from './release.js';
import type { SupervisorCore } from './supervisor-core.js';

/** After SIGKILL, how long a stop waits for the death record. */
const KILL_GRACE_MS = 2000;

export class Stops {
  constructor(private readonly core: SupervisorCore) {}

  /** Graceful stop of every entity. */
  async stopAll(): Promise<void> {
    const { store, paths, log } = this.core;
    const { coord } = this.core.with;
    const names = store
      .allEntities()
      .filter((e) => e.kind === 'spawned' || e.kind === 'pid')
      .map((e) => e.name);
    // Dependants before what they require, groups in reverse order; the rest together.
    coord.stoppingAll = true;
    for (const wave of coord.stopWaves(names)) await Promise.all(wave.map((n) => this.stopOne(n)));
    const released = releaseKeepers(paths, store.allEntities(), (n) => this.core.parts.keepers.unwatch(n));
    if (released) log('info', 'stop --all: keepers released', { keepers: released });
  }

  async stopOne(name: string): Promise<void> {
    const cur = this.core.store.entity(name);
    // Only what runs (or is about to restart) is stopped; the next start brings back exactly that.
    if (!cur || !(cur.state === 'running' || cur.state === 'starting' || cur.restartPending)) return;
    const e = this.core.updateIfPresent(name, (rec) => {
      rec.desired = 'stopped';
      rec.restartAt = null;
      rec.restartPending = false;
      if (rec.state === 'dead') rec.state = 'stopped';
    });
    if (!e) return;
    this.core.parts.restarts.cancel(name);
    if (e.state === 'stopped') return this.core.parts.keepers.releaseIfDone(e);
    const gone = (x: EntityRecord | undefined): boolean => !x || x.state === 'stopped';
    // Its stop signal to the process (it may stop its children itself), then SIGKILL of the whole group.
    this.core.signalGroup(e, e.stopPolicy.signal as NodeJS.Signals);
    if (await this.core.waitFor(name, gone, e.stopPolicy.timeoutMs).then(gone)) return;
    const now = this.core.store.entity(name);
    // Only the process we asked to stop, and only if it is still meant to stop.
    if (now && now.desired === 'stopped' && now.pid === e.pid) this.core.signalGroup(now, 'SIGKILL');
    await this.core.waitFor(name, gone, KILL_GRACE_MS);
  }
}
