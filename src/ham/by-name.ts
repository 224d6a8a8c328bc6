// An operator's requests by name: `ham stop|start|restart|reload NAME` and the
// rolling `ham restart --group G`. Each state change is the lifecycle table's
// (lifecycle-requests.ts), in one fenced transaction that also says it in the
// event log; the stop policy (signal, timeout, SIGKILL of the group) is the
// one `ham stop --all` uses (stops.ts), and a takeover in the middle carries
// it out (reconcile resumes a stop under way).
import { HamError } from '../errors.js';
import { isAlive } from '../proc/procfs.js';
import type { EntityRecord } from '../model/records.js';
import { emptyFired } from './dispatch.js';
import { processRuns, stopWanted, viewState } from './lifecycle.js';
import { reloaded } from './reload-wait.js';
import { Rolls } from './rolls.js';
import { keeperWaits, RESTART_DEADLINE_MS } from './restarts.js';
import { unknownEntity, type SupervisorCore } from './supervisor-core.js';

export type Request = 'stop' | 'start' | 'restart' | 'reload';

/** After SIGKILL, how long a waited stop allows for the death record (as stops.ts). */
const KILL_GRACE_MS = 2000;
export const DEFAULT_RELOAD_SIGNAL = 'SIGHUP';

export interface Done {
  entity: EntityRecord;
  /** The request changed something (false: it was already so: stopped, running). */
  changed: boolean;
}

export class ByName {
  /** `restart --group` rolls, kept in the store (a takeover carries them on). */
  readonly rolls: Rolls<Done>;
  constructor(private readonly core: SupervisorCore) {
    this.rolls = new Rolls(core, this);
  }

  /** `ham stop NAME`: its stop policy; it stays stopped (no death, no restart) until `ham start NAME`. */
  async stop(name: string, wait: boolean): Promise<Done> {
    this.check(name, 'stop');
    const { done, stopped } = this.stopping(name, false);
    if (!wait) return done;
    await stopped;
    const after = this.core.store.entity(name);
    if (!after) throw unknownEntity(name);
    // What really happened: its exit not seen by the deadline (stop timeout, SIGKILL, its grace), or started again meanwhile.
    if (after.life.tag === 'stopping' || after.life.tag === 'starting' || processRuns(after.life)) {
      const pid = after.pid !== null ? ` (pid ${after.pid})` : '';
      throw new HamError({
        code: after.life.tag === 'stopping' ? 'timeout' : 'bad-request',
        entity: name,
        message: `stop ${name}: expected it stopped by the deadline (its stop timeout ${after.stopPolicy.timeoutMs} ms, then SIGKILL and ${KILL_GRACE_MS} ms), it is ${after.life.tag === 'stopping' ? 'still stopping (its exit not seen)' : viewState(after.life)}${pid}`,
      });
    }
    return { ...done, entity: after };
  }

  /** `ham restart NAME`: its stop policy, then started again; a requested restart, not a death. */
  async restart(name: string, wait: boolean): Promise<Done> {
    const e = this.check(name, 'restart');
    if (e.life.tag === 'held') throw this.refuse(e, 'restart', `it is held (${heldWhy(e)}): it starts by itself when it may`);
    if (e.life.tag === 'stopping' && e.life.then !== 'stopped')
      throw this.refuse(e, 'restart', `it is being held (${heldWhy(e)}): it starts by itself when it may`);
    const before = e.instance;
    const { done, stopped } = this.stopping(name, true);
    if (!wait) return done;
    await stopped;
    return { entity: await this.untilStarted(name, before, 'restart'), changed: true };
  }

  /** A roll's member whose restart a previous HAM asked (its instance then: `before`): until it is back. */
  async carryOn(name: string, before: number): Promise<Done> {
    const e = this.core.mustGet(name);
    // Same instance and not stopping: the ask never landed (or its start is under way: asked again, it starts anew).
    if (e.instance === before && e.life.tag !== 'stopping') return this.restart(name, true);
    if (e.life.tag === 'stopping') await this.untilStopped(name);
    return { entity: await this.untilStarted(name, before, 'restart'), changed: true };
  }

  /** `ham start NAME`: started again (a stop by name, a death with no restart coming). */
  async start(name: string, wait: boolean): Promise<Done> {
    const e = this.check(name, 'start');
    if (e.life.tag === 'held') throw this.refuse(e, 'start', `it is held (${heldWhy(e)}): it starts by itself when it may`);
    const before = e.instance;
    const { transitions } = this.core.parts;
    const applied = transitions.apply(name, (rec) => ({ tag: 'ask-start', keeperParked: keeperWaits(rec) }));
    if (!applied) throw unknownEntity(name);
    if (applied.outcome) transitions.perform(applied.entity, applied.outcome.effects);
    const changed = !!applied.outcome;
    if (!wait || (!changed && processRuns(applied.entity.life))) return { entity: applied.entity, changed };
    if (applied.entity.life.tag === 'stopping') await this.untilStopped(name); // being stopped by name: started once it exited
    return { entity: await this.untilStarted(name, before, 'start'), changed };
  }

  /**
   * `ham reload NAME`: its `reloadSignal` (default SIGHUP) to its process (not its group: the main
   * process decides, as systemd's `kill -HUP $MAINPID`). Done once the signal is delivered.
   */
  async reload(name: string, wait: boolean): Promise<Done> {
    const e = this.check(name, 'reload');
    if (!processRuns(e.life) || e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart }))
      throw this.refuse(e, 'reload', `expected it running, it is ${viewState(e.life)}: nothing to reload`);
    const signal = (e.stopPolicy.reloadSignal ?? DEFAULT_RELOAD_SIGNAL) as NodeJS.Signals;
    const fired = this.core.write(() =>
      this.core.store.appendEvent({ entity: name, type: 'requested', time: Date.now(), fired: [], pid: e.pid, detail: `reload requested (${signal})` }),
    );
    this.core.publish({ ...emptyFired(), events: [fired] });
    const done = wait ? reloaded(this.core, e) : undefined; // watching before the signal: its RELOADING=1 may come at once
    process.kill(e.pid, signal);
    this.core.log('info', 'reload: signal sent', { entity: name, pid: e.pid, signal });
    if (done) await done;
    return { entity: this.core.mustGet(name), changed: true };
  }

  /**
   * `ham restart --group G`: one member at a time, in the group's order, each ready (running, or
   * ready where it has readiness) before the next. Members stopped by name, held or failed are
   * skipped (and said). Stops at the first member that does not come back.
   */
  async restartGroup(group: string, wait: boolean): Promise<{ done: Done[]; skipped: { name: string; why: string }[] }> {
    const members = this.core.store
      .allEntities()
      .filter((e) => e.group === group)
      .sort((a, b) => a.id - b.id);
    if (members.length === 0) {
      const groups = Object.keys(this.core.store.groups());
      throw new HamError({
        code: 'bad-request',
        message: `restart --group: expected a group with members (${groups.join(', ') || 'none declared'}), got ${JSON.stringify(group)}`,
      });
    }
    const skipped = members.filter((e) => !processRuns(e.life)).map((e) => ({ name: e.name, why: viewState(e.life) }));
    const todo = members.filter((e) => processRuns(e.life)).map((e) => e.name);
    const record = this.rolls.begin(group, todo);
    const roll = (): Promise<Done[]> => this.rolls.run(record);
    if (wait) return { done: await roll(), skipped };
    roll().catch((err: unknown) => this.core.log('error', 'restart --group stopped', { group, error: (err as Error).message }));
    return { done: todo.map((n) => ({ entity: this.core.mustGet(n), changed: true })), skipped };
  }

  /** `ask-stop` applied; its stop carried out (timeout, SIGKILL) whether or not the caller waits for `stopped`. */
  private stopping(name: string, restart: boolean): { done: Done; stopped: Promise<void> } {
    const { transitions } = this.core.parts;
    const applied = transitions.apply(name, (rec) => ({ tag: 'ask-stop', restart, keeperParked: keeperWaits(rec) }));
    if (!applied) throw unknownEntity(name);
    if (applied.outcome) transitions.perform(applied.entity, applied.outcome.effects);
    const stopped = this.untilStopped(name);
    stopped.catch(() => undefined);
    return { done: { entity: applied.entity, changed: !!applied.outcome }, stopped };
  }

  private async untilStopped(name: string): Promise<void> {
    const e = this.core.store.entity(name);
    if (e?.life.tag === 'stopping') await this.core.parts.stops.untilStopped(name, e);
    await this.core.waitFor(name, (x) => !x || x.life.tag !== 'stopping', KILL_GRACE_MS);
    await this.core.parts.stops.killLeft(name); // one whose command had died (a daemon that forked away) too
  }

  /** Until a new instance runs and is ready; its failure to start is the request's error. */
  private async untilStarted(name: string, before: number, request: Request): Promise<EntityRecord> {
    const t0 = Date.now();
    const e = this.core.mustGet(name);
    const ok = (x: EntityRecord | undefined): boolean =>
      !x ||
      (x.instance > before && viewState(x.life) === 'running') ||
      (x.failedStartAt ?? 0) >= t0 ||
      x.life.tag === 'dead' ||
      x.life.tag === 'failed' ||
      stopWanted(x.life);
    const after = await this.core.waitFor(name, ok, RESTART_DEADLINE_MS + (e.readiness?.timeoutMs ?? 0));
    if (!after) throw unknownEntity(name);
    if (after.instance > before && viewState(after.life) === 'running') return after;
    throw new HamError({
      code: 'spawn-failed',
      entity: name,
      message: `${request} ${name}: expected it running${after.readiness ? ' and ready' : ''}, it is ${viewState(after.life)}${after.lastError ? `: ${after.lastError}` : ''}`,
      ...(after.lastFailure ? { failure: after.lastFailure } : {}),
    });
  }

  /** The entity, or the error saying why ham cannot do this to it. */
  private check(name: string, request: Request): EntityRecord {
    const e = this.core.mustGet(name);
    if (e.kind === 'global') throw this.refuse(e, request, 'the global entity * has no process');
    if (e.kind === 'placeholder') throw this.refuse(e, request, 'it is a placeholder: no process is attached to it yet');
    if (e.kind === 'self' && request !== 'reload')
      throw this.refuse(e, request, 'it attached itself (through the client library): its own process starts and stops it');
    if ((request === 'start' || request === 'restart') && e.argv.length === 0)
      throw this.refuse(e, request, `it was attached by pid without a command: ham cannot start it (attach it with a command to restart it with)`);
    if ((request === 'start' || request === 'restart') && e.life.tag === 'failed')
      throw this.refuse(e, request, `it failed (${e.lastError ?? 'restart intensity exceeded'}): \`ham reset ${name}\` starts it with fresh counters`);
    return e;
  }

  private refuse(e: EntityRecord, request: Request, why: string): HamError {
    return new HamError({ code: 'bad-request', entity: e.name, message: `${request} ${e.name}: ${why}` });
  }
}

function heldWhy(e: EntityRecord): string {
  const why = e.life.tag === 'held' ? e.life.why : e.life.tag === 'stopping' && e.life.then !== 'stopped' ? e.life.then : null;
  if (why === null) return '';
  return why === 'group' ? 'its group restarts' : `something it requires is down: ${e.requires.join(', ')}`;
}
