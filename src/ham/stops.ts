// Graceful stops: the entity's stop signal, then SIGKILL of its process group
// after its stop timeout; `ham stop --all` stops in waves (dependants before
// what they require, groups in reverse order) and then lets every keeper go.
import type { EntityRecord } from '../model/records.js';
import type { EventOf } from './lifecycle-events.js';
import { transition } from './lifecycle-table.js';
import { restartComing, stopWanted, viewState } from './lifecycle.js';
import { killCgroup } from './cgroups.js';
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

  /** Stop it (or hold it: stopped until it may run again) in one transaction; resolves once it is stopped or the stop gave up. */
  async stopOne(name: string, ev: EventOf<'stop'> | EventOf<'hold'> = { tag: 'stop' }): Promise<void> {
    const { transitions } = this.core.parts;
    const cur = this.core.store.entity(name);
    // Only what runs (or is about to restart) is stopped; the next start brings back exactly that.
    if (!cur || !(viewState(cur.life) === 'running' || viewState(cur.life) === 'starting' || restartComing(cur.life))) return;
    const applied = transitions.apply(name, ev);
    if (!applied) return;
    const e = applied.entity;
    // Its stop signal to the process (it may stop its children itself), or its keeper let go if nothing runs.
    if (applied.outcome) transitions.perform(e, applied.outcome.effects);
    if (viewState(e.life) === 'stopped' || !stopWanted(e.life)) return this.killLeft(name);
    await this.untilStopped(name, e);
  }

  /** After its stop policy: what escaped its process group (a setsid daemon) but not its cgroup is killed, unless it runs again. */
  async killLeft(name: string): Promise<void> {
    const now = this.core.store.entity(name);
    if (!now?.cgroup || viewState(now.life) === 'running' || viewState(now.life) === 'starting') return;
    const { cgroup, keeperSerial } = now;
    // Never what its next start runs there: that start takes a new keeper serial first.
    const mayKill = (): boolean => {
      const x = this.core.store.entity(name);
      return !!x && x.cgroup === cgroup && x.keeperSerial === keeperSerial && viewState(x.life) !== 'running' && viewState(x.life) !== 'starting';
    };
    const killed = await killCgroup(cgroup, { mayKill });
    if (killed.length) this.core.log('info', 'stop: killed what was left in its cgroup', { entity: name, cgroup, pids: killed });
  }

  /**
   * A stop (or hold) an earlier HAM committed but may not have carried out: it died before
   * the signal, or during the stop timeout (kept only in its memory). Signal again (a
   * repeated stop signal is harmless), then the timeout and SIGKILL as for any stop.
   */
  async resume(name: string): Promise<void> {
    const e = this.core.store.entity(name);
    if (!e || e.life.tag !== 'stopping') return;
    this.core.log('info', 'resuming a stop the previous HAM began', { entity: name });
    this.core.parts.transitions.perform(e, [{ kind: 'signal', signal: 'stop' }]);
    await this.untilStopped(name, e);
  }

  /** Until the stop of `e` ended (its stop timeout, then SIGKILL of its group): stopped, held, or started again (`ham restart NAME`). */
  async untilStopped(name: string, e: EntityRecord): Promise<void> {
    await this.stopPolicy(name, e);
    await this.killLeft(name);
  }

  private async stopPolicy(name: string, e: EntityRecord): Promise<void> {
    const { transitions } = this.core.parts;
    const gone = (x: EntityRecord | undefined): boolean => !x || x.life.tag !== 'stopping';
    if (await this.core.waitFor(name, gone, e.stopPolicy.timeoutMs).then(gone)) return;
    const now = this.core.store.entity(name);
    // Only the process we asked to stop, and only if it is still meant to stop: SIGKILL of its group.
    if (now && now.pid === e.pid) {
      const timeout = transition(now.life, { tag: 'stop-timeout' }, { kind: now.kind, hasCommand: now.argv.length > 0 });
      if (timeout) transitions.perform(now, timeout.effects);
    }
    await this.core.waitFor(name, gone, KILL_GRACE_MS);
  }
}
