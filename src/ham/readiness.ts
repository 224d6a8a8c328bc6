// Readiness at run time: an entity with a `readiness` probe is `running` but
// not ready (`starting` in status) from its exec until the probe answers;
// then `ready` goes through the lifecycle table (its `ready` conditions fire,
// its dependants and the next of its group start). Not ready by its start's
// deadline (startedAt + timeoutMs, in the store, so a new HAM keeps the same
// one): a failed start, stopped by the table's `not-ready`; its exit is a
// death. Probes run one at a time per entity, off the loop (probes.ts), and
// stop once it is ready or gone. notify and fd are answered by the keeper
// (readiness-keeper.ts): only their deadline is kept here.
import { LogWriter } from '../logs/writer.js';
import { DEFAULT_LOG_POLICY } from '../model/defaults.js';
import { entityLogDir } from '../model/log-names.js';
import type { EntityRecord } from '../model/records.js';
import { keeperSide, READY_TEXT_MAX } from '../model/readiness.js';
import { unreadyOf } from './lifecycle.js';
import { runProbe } from './probes.js';
import { runAsUserEnv, runsAsOther } from '../keeper/runas-env.js';
import { KeeperReadinessReader } from './readiness-keeper.js';
import type { SupervisorCore } from './supervisor-core.js';

/** The bound on the last probe error kept (it goes into lastError and an event's detail). */
const PROBE_ERROR_MAX = 512;

interface Probing {
  instance: number;
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  lastError: string;
  /** Past the deadline: stopped, waiting for its exit (the timer is the SIGKILL's). */
  expired: boolean;
}

/** Its start's deadline: startedAt + timeoutMs, or later where EXTEND_TIMEOUT_USEC moved it. */
function deadlineOf(e: EntityRecord): number {
  return Math.max((e.startedAt ?? Date.now()) + (e.readiness?.timeoutMs ?? 0), e.keeperReady?.extendedTo ?? 0);
}

export class Readiness {
  private readonly probing = new Map<string, Probing>();
  /** The keeper's answers (notify, fd). */
  readonly keeper: KeeperReadinessReader;

  constructor(private readonly core: SupervisorCore) {
    this.keeper = new KeeperReadinessReader(core, { markReady: (n, i, t) => this.markReady(n, i, t), extend: (n, i, u) => this.extend(n, i, u) });
  }

  close(): void {
    for (const p of this.probing.values()) clearTimeout(p.timer);
    this.probing.clear();
  }

  /** Probe `e` (running, not ready) until it answers or its start's deadline; again for the same instance: nothing new. */
  track(e: EntityRecord): void {
    if (!e.readiness || !unreadyOf(e.life)) return;
    const cur = this.probing.get(e.name);
    if (cur?.instance === e.instance) return;
    if (cur) clearTimeout(cur.timer);
    const p: Probing = {
      instance: e.instance,
      deadline: deadlineOf(e),
      timer: undefined,
      lastError: keeperSide(e.readiness.probe) ? keeperSilence(e.readiness.probe) : 'no probe answered yet',
      expired: false,
    };
    this.probing.set(e.name, p);
    this.next(e.name, p, 0);
    // A READY=1 may have come before this instance's S record was applied: read it after the effects under way.
    if (keeperSide(e.readiness.probe))
      setImmediate(() => {
        if (this.probing.get(e.name) !== p) return; // ready, gone, closed or a new instance meanwhile
        const now = this.core.store.entity(e.name);
        if (now) this.keeper.read(now);
      });
  }

  /** EXTEND_TIMEOUT_USEC: instance `instance` of `name` may take until `until` (epoch ms) to be ready. */
  extend(name: string, instance: number, until: number): void {
    const p = this.probing.get(name);
    if (!p || p.instance !== instance || p.expired || until <= p.deadline) return;
    p.deadline = until;
    clearTimeout(p.timer);
    this.next(name, p, until - Date.now());
  }

  /**
   * The "ready" input: instance `instance` of `name` is ready (`text`: what
   * answered). A probe calls it; so can a keeper record (notify, fd). False
   * if that instance is not the one starting now (a late answer), or it is
   * past its deadline (its start failed already).
   */
  markReady(name: string, instance: number, text: string): boolean {
    const e = this.core.store.entity(name);
    if (!e || e.instance !== instance || !unreadyOf(e.life)) return false;
    const p = this.probing.get(name);
    if (p?.instance === instance && p.expired) return false;
    if (e.readiness && Date.now() > deadlineOf(e)) return false;
    if (p) clearTimeout(p.timer);
    this.probing.delete(name);
    const { transitions } = this.core.parts;
    const applied = transitions.apply(name, { tag: 'ready' }, { readyText: text.slice(0, READY_TEXT_MAX) });
    if (!applied?.outcome) return false;
    this.core.log('info', 'ready', { entity: name, instance, answer: text });
    transitions.perform(applied.entity, applied.outcome.effects);
    return true;
  }

  private next(name: string, p: Probing, delayMs: number): void {
    const left = p.deadline - Date.now();
    if (left <= 0) return this.expire(name, p);
    p.timer = setTimeout(() => void this.attempt(name, p), Math.min(delayMs, left));
  }

  /** The record still probed by `p` (the same instance, not ready); else `p` is dropped. */
  private current(name: string, p: Probing): EntityRecord | undefined {
    if (this.probing.get(name) !== p) return undefined;
    const e = this.core.store.entity(name);
    if (e?.readiness && e.instance === p.instance && unreadyOf(e.life)) return e;
    clearTimeout(p.timer);
    this.probing.delete(name);
    // `apply` took its readiness away while it was starting: nothing is left to wait for.
    if (e && !e.readiness && e.instance === p.instance && unreadyOf(e.life) && !p.expired) this.markReady(name, p.instance, 'its readiness was removed');
    return undefined;
  }

  private async attempt(name: string, p: Probing): Promise<void> {
    const e = this.current(name, p);
    if (!e) return;
    const left = p.deadline - Date.now();
    if (left <= 0) return this.expire(name, p);
    const spec = e.readiness!;
    if (keeperSide(spec.probe)) return this.next(name, p, left); // the keeper answers: only the deadline is ours
    const res = await runProbe(spec.probe, {
      timeoutMs: Math.max(1, Math.min(spec.attemptMs, left)),
      cwd: e.cwd,
      env: { ...this.core.baseEnv, ...runAsUserEnv(e.runAs), ...e.env, HAM_ENTITY: e.name, HAM_PID: String(e.pid ?? '') },
      ids: runsAsOther(e.runAs) ? { uid: e.runAs!.user!.uid, gid: e.runAs!.group?.gid ?? process.getegid!() } : undefined,
      // Kept like an action's output, under NAME/=readiness (no entity has a "/" in its name, no condition a "=").
      output: () => new LogWriter(entityLogDir(this.core.paths.logs, `${e.name}/=readiness`), e.logs ?? DEFAULT_LOG_POLICY, e.instance),
    });
    if (!this.current(name, p)) return; // ready by another input, gone, or a new instance meanwhile
    if (res.ok) return void this.markReady(name, p.instance, res.text);
    p.lastError = res.error.slice(0, PROBE_ERROR_MAX);
    this.next(name, p, spec.intervalMs);
  }

  /** Past the deadline: the start failed; its process group is stopped (SIGKILL after its stop timeout). */
  private expire(name: string, p: Probing): void {
    const e = this.current(name, p);
    if (!e) return;
    p.expired = true;
    const why = `not ready within ${e.readiness!.timeoutMs} ms: ${p.lastError}`;
    this.core.log('warn', 'not ready in time: stopping it (a failed start)', { entity: name, instance: p.instance, error: why });
    const { transitions } = this.core.parts;
    const applied = transitions.apply(
      name,
      { tag: 'not-ready', kill: false },
      { startError: why, startFailure: { argv: e.argv, timedOut: true, durationMs: e.readiness!.timeoutMs, lastLine: p.lastError } },
    );
    if (applied?.outcome) transitions.perform(applied.entity, applied.outcome.effects);
    p.timer = setTimeout(() => {
      if (!this.current(name, p)) return;
      const killed = transitions.apply(name, { tag: 'not-ready', kill: true });
      if (killed?.outcome) transitions.perform(killed.entity, killed.outcome.effects);
    }, e.stopPolicy.timeoutMs);
  }
}

/** What a start the keeper answers for lacked at its deadline. */
function keeperSilence(p: { kind: 'notify' } | { kind: 'fd'; fd: number }): string {
  return p.kind === 'notify' ? 'no READY=1 came on NOTIFY_SOCKET' : `no newline came on fd ${p.fd}`;
}
