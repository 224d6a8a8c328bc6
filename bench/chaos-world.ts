// What a chaos campaign runs against and checks: a pair on a temporary home,
// entities declared by a file that changes from round to round, and the
// invariants that must hold after every round (see chaos.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import type { EntityView, StatusView } from '../src/protocol/views.js';
import { homePaths } from '../src/home.js';
import { keeperProcesses } from '../src/proc/keepers.js';
import { daemons, ham, keepersWith, killAll, procsWith, tryStatus } from '../test/helpers/ham.js';

export const NAMES = ['alpha', 'beta', 'gamma'];

export interface ChaosEvent {
  seq: number;
  entity: string;
  condition: string;
  exit?: { code: number | null; signal: string | null };
}

/** The pair, its entities and the file that declares them. */
export class World {
  readonly home = mkdtempSync(join(tmpdir(), 'ham-chaos-'));
  readonly file = join(this.home, 'chaos.json');
  /** The file's generation: each apply round changes the notes' message and adds or drops a condition. */
  gen = 0;

  constructor(readonly hangMs: number) {}

  marker(name: string): string {
    return `${this.home}/chaos-${name}`;
  }

  config(gen: number): object {
    const entities: Record<string, object> = {};
    for (const n of NAMES) {
      entities[n] = {
        command: ['perl', '-e', 'sleep 100000 while 1', this.marker(n)],
        conditions: {
          restart: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] },
          note: { type: 'raise', rearm: true, actions: [{ kind: 'log', message: `gen ${gen}` }] },
          ...(gen % 2 === 1 ? { extra: { type: 'state', rearm: true, actions: [{ kind: 'log', message: `extra ${gen}` }] } } : {}),
        },
      };
    }
    return { entities };
  }

  writeFile(gen: number): void {
    writeFileSync(this.file, JSON.stringify(this.config(gen), null, 1));
  }

  async start(): Promise<void> {
    const r = await ham(this.home, ['start', '--hang-ms', String(this.hangMs)]);
    if (r.code !== 0) throw new Error(`ham start failed: ${r.stdout}${r.stderr}`);
  }

  async request<T>(op: string, args: object, timeoutMs = 10_000): Promise<T> {
    const c = await Connection.open(homePaths(this.home).socket, 2000);
    try {
      return (await c.request(op as never, args as never, timeoutMs)) as T;
    } finally {
      c.close();
    }
  }

  status(): Promise<StatusView | undefined> {
    return tryStatus(this.home);
  }

  /** Every event after `since`, page by page. */
  async eventsSince(since: number): Promise<ChaosEvent[]> {
    const out: ChaosEvent[] = [];
    for (;;) {
      const r = await this.request<{ events: ChaosEvent[] }>('events', { since, limit: 10_000 });
      out.push(...r.events);
      if (r.events.length < 10_000) return out;
      since = r.events[r.events.length - 1]!.seq;
    }
  }

  /** Apply the file through the socket; the result, or the error's message. */
  async applySocket(config: object): Promise<{ ok: boolean; changes?: { entity: string; change: string }[]; error?: string }> {
    try {
      const r = await this.request<{ changes: { entity: string; change: string }[] }>('apply', { config: { ...config, baseDir: this.home } }, 20_000);
      return { ok: true, changes: r.changes };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  async applyCli(): Promise<{ ok: boolean; error?: string }> {
    const r = await ham(this.home, ['apply', '-f', this.file]);
    return r.code === 0 ? { ok: true } : { ok: false, error: (r.stderr || r.stdout).trim().slice(0, 300) };
  }

  keepers(name: string): number[] {
    return keepersWith(this.marker(name));
  }

  /** Every keeper of this home, whoever it keeps. */
  allKeepers(): number[] {
    return keeperProcesses()
      .filter((k) => k.argv.some((a) => a.includes(this.home)))
      .map((k) => k.pid);
  }

  cleanup(): void {
    killAll(this.home);
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** The message of an entity's `note` action: which file generation it holds. */
export function noteGen(e: EntityView): number | undefined {
  const m = e.conditions.find((c) => c.name === 'note')?.actions[0]?.params.message;
  return typeof m === 'string' ? Number(m.replace('gen ', '')) : undefined;
}

export interface Expect {
  /** A takeover must have happened (epoch up), or must not have. */
  takeover: boolean;
  /** The entity killed this round (a new pid, one more death and restart, lastExit SIGKILL). */
  victim: string | null;
  /** The keeper killed this round (a new keeper, the entity's pid kept). */
  keeperOf: string | null;
  /** The file generations acceptable now (an apply cut short may or may not have committed). */
  gens: number[];
  /** Entities whose keeper was killed since they last started: adopted orphans, whose exit status cannot be known (README). */
  adopted: Set<string>;
}

/** Every invariant after a round; each broken one is a line. */
export function check(w: World, prev: StatusView, now: StatusView, evs: ChaosEvent[], lastSeq: number, x: Expect, oldKeepers: Map<string, number[]>): string[] {
  const bad: string[] = [];
  const pair = [now.ham.pid, now.guardian.pid].sort();
  const ds = daemons(w.home).sort();
  if (JSON.stringify(ds) !== JSON.stringify(pair))
    bad.push(`daemons ${JSON.stringify(ds)}, the store says HAM ${now.ham.pid} and Guardian ${now.guardian.pid}`);
  if (now.ham.epoch < prev.ham.epoch) bad.push(`epoch went down: ${prev.ham.epoch} → ${now.ham.epoch}`);
  if (x.takeover && now.ham.epoch <= prev.ham.epoch) bad.push(`no takeover: epoch stayed ${now.ham.epoch}`);
  if (!x.takeover && now.ham.epoch !== prev.ham.epoch) bad.push(`unexpected takeover: epoch ${prev.ham.epoch} → ${now.ham.epoch}`);
  if (!x.takeover && now.ham.pid !== prev.ham.pid) bad.push(`HAM changed without a takeover being caused: ${prev.ham.pid} → ${now.ham.pid}`);
  const gens = new Set<number | undefined>();
  for (const n of NAMES) {
    const was = prev.entities.find((e) => e.name === n);
    const is = now.entities.find((e) => e.name === n);
    if (!was || !is) {
      bad.push(`${n}: lost (not in status)`);
      continue;
    }
    gens.add(noteGen(is));
    if (is.state !== 'running') bad.push(`${n}: ${is.state}, expected running`);
    const procs = procsWith(w.marker(n));
    if (procs.length !== 1 || procs[0] !== is.pid) bad.push(`${n}: processes ${JSON.stringify(procs)}, the store says ${is.pid}`);
    const keepers = w.keepers(n);
    if (keepers.length !== 1) bad.push(`${n}: ${keepers.length} keepers ${JSON.stringify(keepers)}`);
    if (x.keeperOf === n && keepers.length === 1 && oldKeepers.get(n)?.includes(keepers[0]!)) bad.push(`${n}: its killed keeper ${keepers[0]} still there`);
    const deaths = evs.filter((e) => e.entity === n && e.condition === 'death');
    if (x.victim === n) {
      if (is.pid === was.pid) bad.push(`${n}: killed but its pid ${is.pid} is unchanged`);
      if (is.deaths !== was.deaths + 1) bad.push(`${n}: deaths ${was.deaths} → ${is.deaths}, expected +1`);
      if (is.restarts !== was.restarts + 1) bad.push(`${n}: restarts ${was.restarts} → ${is.restarts}, expected +1`);
      const signal = x.adopted.has(n) ? null : 'SIGKILL';
      if (is.lastExit?.signal !== signal || is.lastExit?.code !== null) bad.push(`${n}: lastExit ${JSON.stringify(is.lastExit)}, expected signal ${signal}`);
      if (deaths.length !== 1) bad.push(`${n}: ${deaths.length} death events, expected 1`);
      else if (deaths[0]!.exit?.signal !== signal) bad.push(`${n}: death event exit ${JSON.stringify(deaths[0]!.exit)}, expected signal ${signal}`);
    } else {
      if (is.pid !== was.pid) bad.push(`${n}: pid ${was.pid} → ${is.pid} though it was not killed`);
      if (is.deaths !== was.deaths || is.restarts !== was.restarts)
        bad.push(`${n}: deaths/restarts ${was.deaths}/${was.restarts} → ${is.deaths}/${is.restarts} though it was not killed`);
      if (deaths.length) bad.push(`${n}: ${deaths.length} death events though it was not killed`);
    }
  }
  if (gens.size !== 1) bad.push(`entities hold different file generations ${JSON.stringify([...gens])} (an apply is one transaction)`);
  else if (!x.gens.includes([...gens][0]!)) bad.push(`file generation ${[...gens][0]}, expected one of ${x.gens.join(', ')}`);
  const keepers = w.allKeepers().length;
  if (keepers !== NAMES.length) bad.push(`${keepers} keepers for ${NAMES.length} entities (orphans?)`);
  evs.forEach((e, i) => {
    const want = lastSeq + 1 + i;
    if (e.seq !== want) bad.push(`event seq ${e.seq} where ${want} was due (gap or duplicate)`);
  });
  const tail = evs.length ? evs[evs.length - 1]!.seq : lastSeq;
  if (now.lastSeq < tail) bad.push(`status lastSeq ${now.lastSeq} behind the events' ${tail}`);
  return [...new Set(bad)];
}
