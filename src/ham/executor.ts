// Runs fired action lists. A run is a record in the store with a cursor
// (main[i].onFail[j]...) and whether the action there is in flight, written
// before and after every action. A new HAM resumes every run at its cursor:
// an action that had finished is not run again; one that was in flight is run
// again (its result cannot be known; a left-over `execute` child is killed
// first). Lists for the same entity run one after the other, in the order
// they fired; `independent` lists run alongside.
import { Durations, LatencyRing } from '../latency.js';
import type { Failure } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActionSpec, RunRecord } from '../model/conditions.js';
import type { Store } from '../store/store.js';
import { actionAt } from './conditions.js';

export interface ActionResult {
  ok: boolean;
  error?: string;
  /** What failed, as data (an execute's argv, exit, signal, duration, timeout, stderr tail). */
  failure?: Failure;
  /** A failure that is the entity's state, not the action's (a failed entity's restart): keep the action for after `ham reset`. */
  keep?: boolean;
}

export type RunAction = (run: RunRecord, action: ActionSpec, resumed: boolean) => Promise<ActionResult>;

export interface ExecutorOptions {
  store: Store;
  log: Logger;
  /** A fenced write transaction. */
  write: <T>(fn: () => T) => T;
  runAction: RunAction;
  /** Fires once per run when it is done (tests and stats listen). */
  onDone?: (run: RunRecord) => void;
}

interface Resume {
  path: number[];
  inFlight: boolean;
  lastOk: boolean;
}

export class Executor {
  private readonly queues = new Map<string, RunRecord[]>();
  private readonly active = new Set<string>();
  /** Independent lists running, by entity. */
  private readonly alongside = new Map<string, number>();
  private closed = false;
  /** Runs queued or running in this process: a run is never started twice. */
  private readonly started = new Set<number>();
  /** When each run's occurrence was seen, for runs fired in this process (performance.now()). */
  private readonly firedAt = new Map<number, number>();
  readonly latency = new LatencyRing();
  /** How long actions took, by kind (the HTTP listener's /metrics). */
  readonly durations = new Durations();

  constructor(private readonly o: ExecutorOptions) {}

  /** Lists for this entity queued or running (independent ones included). */
  load(target: string): number {
    return (this.queues.get(target)?.length ?? 0) + (this.active.has(target) ? 1 : 0) + (this.alongside.get(target) ?? 0);
  }

  /** Is a list for this entity queued or running (inline lists must wait their turn)? */
  busy(target: string): boolean {
    return this.active.has(target) || (this.queues.get(target)?.length ?? 0) > 0;
  }

  start(runs: RunRecord[], seenAt?: number): void {
    for (const r of runs) {
      if (this.started.has(r.id)) continue;
      this.started.add(r.id);
      if (seenAt !== undefined) this.firedAt.set(r.id, seenAt);
      if (r.independent) {
        this.alongside.set(r.target, (this.alongside.get(r.target) ?? 0) + 1);
        void this.launch(r).finally(() => {
          const n = (this.alongside.get(r.target) ?? 1) - 1;
          if (n > 0) this.alongside.set(r.target, n);
          else this.alongside.delete(r.target);
        });
      } else {
        const q = this.queues.get(r.target) ?? [];
        q.push(r);
        this.queues.set(r.target, q);
        this.pump(r.target);
      }
    }
  }

  /** After a takeover: every run left in the store, in the order they fired. */
  resumeAll(): void {
    const runs = this.o.store.allRuns().sort((a, b) => a.id - b.id);
    if (runs.length)
      this.o.log('info', 'resuming action runs', {
        runs: runs.map((r) => `${r.owner}/${r.condition}#${r.id}@${r.cursor.join('.')}${r.inFlight ? ' (in flight)' : ''}`),
      });
    this.start(runs);
  }

  close(): void {
    this.closed = true;
  }

  private pump(target: string): void {
    if (this.active.has(target)) return;
    const q = this.queues.get(target);
    const next = q?.shift();
    if (!next) {
      this.queues.delete(target);
      return;
    }
    this.active.add(target);
    void this.launch(next).finally(() => {
      this.active.delete(target);
      this.pump(target);
    });
  }

  private async launch(run: RunRecord): Promise<void> {
    const resume: Resume | undefined = run.cursor.length ? { path: run.cursor, inFlight: run.inFlight, lastOk: run.lastOk } : undefined;
    try {
      await this.runList(run, run.actions, [], resume);
    } catch (e) {
      this.o.log('error', 'action run failed unexpectedly', { run: run.id, error: (e as Error).message });
    }
    if (this.closed) return;
    this.firedAt.delete(run.id);
    this.started.delete(run.id);
    this.o.write(() => this.o.store.removeRun(run.id));
    this.o.onDone?.(run);
  }

  private async runList(run: RunRecord, list: ActionSpec[], prefix: number[], resume?: Resume): Promise<void> {
    let i = 0;
    if (resume) {
      const [head, ...rest] = resume.path;
      i = head!;
      const a = list[i];
      if (!a) return;
      if (rest.length > 0) {
        // We were inside this action's fail-actions: it had failed.
        await this.runList(run, a.onFail, [...prefix, i], { ...resume, path: rest });
        if (a.breakOnFail) return;
        i += 1;
      } else if (!resume.inFlight) {
        // It had finished; act on its result, do not run it again.
        if (!resume.lastOk) {
          if (a.onFail.length) await this.runList(run, a.onFail, [...prefix, i]);
          if (a.breakOnFail) return;
        }
        i += 1;
      }
      // In flight: run it again from the start (below).
    }
    for (; i < list.length; i++) {
      if (this.closed) return;
      const a = list[i]!;
      const path = [...prefix, i];
      const resumed = resume !== undefined && resume.inFlight && resume.path.length === 1 && i === resume.path[0];
      this.mark(run, path, true, false);
      const seen = this.firedAt.get(run.id);
      if (seen !== undefined) {
        this.firedAt.delete(run.id);
        this.latency.add(performance.now() - seen);
      }
      let result: ActionResult;
      const began = performance.now();
      try {
        result = await this.o.runAction(run, a, resumed);
      } catch (e) {
        result = { ok: false, error: (e as Error).message };
      }
      this.durations.observe(a.kind, (performance.now() - began) / 1000);
      if (this.closed) return;
      this.finish(run, path, a, result);
      if (!result.ok) {
        this.o.log('warn', 'action failed', {
          entity: run.target,
          owner: run.owner,
          condition: run.condition,
          action: a.name,
          kind: a.kind,
          error: result.error,
          failure: result.failure,
          seq: run.seq,
        });
        if (a.onFail.length) await this.runList(run, a.onFail, path);
        if (a.breakOnFail) return;
      }
    }
  }

  private mark(run: RunRecord, path: number[], inFlight: boolean, lastOk: boolean): void {
    this.o.write(() => {
      const r = this.o.store.run(run.id);
      if (!r) return;
      // The child of an execute is kept until the action finishes: a resumed run kills it first.
      Object.assign(r, { cursor: path, inFlight, lastOk });
      this.o.store.putRun(r);
    });
  }

  /** Record the result on the run and on the live action (counters; removal unless keepOnFail). */
  private finish(run: RunRecord, path: number[], a: ActionSpec, result: ActionResult): void {
    const names = namesAt(run.actions, path);
    this.o.write(() => {
      const r = this.o.store.run(run.id);
      if (r) {
        Object.assign(r, { cursor: path, inFlight: false, lastOk: result.ok, child: null });
        this.o.store.putRun(r);
      }
      const owner = this.o.store.entity(run.owner);
      const c = owner?.conditions.find((x) => x.name === run.condition);
      const at = c && actionAt(c, names);
      if (!owner || !c || !at) return;
      const live = at.list[at.index]!;
      live.runs += 1;
      live.lastRunAt = Date.now();
      live.lastResult = result.ok ? 'ok' : 'failed';
      live.lastError = result.ok ? null : (result.error ?? 'failed');
      // Only where there is something to say: records of an older ham, and of actions that never failed, stay as they were.
      if (!result.ok && result.failure) live.lastFailure = result.failure;
      else delete live.lastFailure;
      if (!result.ok) {
        live.failures += 1;
        c.failed += 1;
        if (!a.keepOnFail && !result.keep) at.list.splice(at.index, 1); // as in QNX: a failed action is removed
      }
      this.o.store.putEntity(owner);
    });
  }
}

function namesAt(list: ActionSpec[], path: number[]): string[] {
  const names: string[] = [];
  let cur = list;
  for (const i of path) {
    const a = cur[i]!;
    names.push(a.name);
    cur = a.onFail;
  }
  return names;
}
