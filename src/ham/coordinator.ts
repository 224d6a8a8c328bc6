// Groups and dependencies at run time (issue 6). A member's restart takes its
// group along by strategy: the affected members are stopped in reverse order,
// then everything is started in order, each once the one before it runs.
// An entity starts only when what it requires runs; when a requirement goes
// down its dependants are stopped (held), and started again once it is back.
// What is held is in the store (`held`), so a new HAM brings it back.
import type { Logger } from '../log.js';
import type { EntityRecord, GroupSpec } from '../model/records.js';
import { affected } from './topology.js';
import { hasProcess, holdOf, restartAtOf, restartComing, viewState, type HoldReason } from './lifecycle.js';

/** Who is in which group (in order) and who requires whom, kept in memory: read at every start and death. */
interface Topology {
  members: Map<string, string[]>;
  dependants: Map<string, string[]>;
}

export interface CoordinatorOps {
  entity(name: string): EntityRecord | undefined;
  all(): EntityRecord[];
  groups(): Record<string, GroupSpec>;
  /** Stop gracefully and mark it held; resolves once it is stopped. */
  holdStop(name: string, why: 'group' | 'requires'): Promise<void>;
  /** Start it now (a restart when `restarting`); resolves once it runs or its start failed. */
  startNow(name: string, restarting: boolean): Promise<void>;
  /** Mark it held without a process to stop (it was about to start). */
  holdInstead(name: string, why: 'group' | 'requires'): void;
}

const up = (e: EntityRecord | undefined): boolean => !!e && viewState(e.life) === 'running';
const heldFor = (e: EntityRecord | undefined, why: HoldReason): boolean => !!e && holdOf(e.life) === why;

export class Coordinator {
  /** Groups with a restart in progress: a second death in one does not start another. */
  private readonly busy = new Set<string>();
  /** `ham stop --all` in progress: its stops are not outages to react to. */
  stoppingAll = false;
  private topo: Topology | undefined;

  constructor(
    private readonly ops: CoordinatorOps,
    private readonly log: Logger,
  ) {}

  /** Entities were added or removed, or their group or requires changed (apply, attach, detach). */
  invalidate(): void {
    this.topo = undefined;
  }

  private topology(): Topology {
    if (this.topo) return this.topo;
    const all = this.ops.all().sort((a, b) => a.id - b.id);
    const t: Topology = { members: new Map(), dependants: new Map() };
    for (const e of all) {
      if (e.group) t.members.set(e.group, [...(t.members.get(e.group) ?? []), e.name]);
      for (const r of e.requires) t.dependants.set(r, [...(t.dependants.get(r) ?? []), e.name]);
    }
    this.topo = t;
    return t;
  }

  private members(group: string): string[] {
    return this.topology().members.get(group) ?? [];
  }

  private dependants(name: string): string[] {
    return this.topology().dependants.get(name) ?? [];
  }

  /** Something requires it (a standing order does not apply: its dependants are held first). */
  hasDependants(name: string): boolean {
    return this.dependants(name).length > 0;
  }

  requirementsUp(e: EntityRecord): boolean {
    return e.requires.every((r) => up(this.ops.entity(r)));
  }

  /** Members of its group before it that are still starting (or held): it starts after them. */
  waitsForGroup(e: EntityRecord): boolean {
    if (!e.group) return false;
    const order = this.members(e.group);
    return order.slice(0, order.indexOf(e.name)).some((m) => {
      const x = this.ops.entity(m);
      return !!x && (viewState(x.life) === 'starting' || holdOf(x.life) === 'group');
    });
  }

  /** A restart of this group is in progress. */
  restarting(group: string): boolean {
    return this.busy.has(group);
  }

  /** Does this entity's restart take others along (and no group restart is running for it)? */
  takesAlong(e: EntityRecord): boolean {
    if (!e.group || this.busy.has(e.group)) return false;
    const spec = this.ops.groups()[e.group];
    return !!spec && affected(spec.strategy, this.members(e.group), e.name).length > 0;
  }

  /** Restart `name` with the members its group's strategy takes along. */
  async groupRestart(name: string): Promise<void> {
    const e = this.ops.entity(name);
    if (!e?.group) return;
    const group = e.group;
    const spec = this.ops.groups()[group]!;
    this.busy.add(group);
    try {
      const order = this.members(group);
      const along = affected(spec.strategy, order, name);
      this.log('info', `group ${group} (${spec.strategy}): restarting ${[name, ...along].join(', ')}`, { entity: name, group });
      for (const m of [...along].reverse()) {
        if (this.stoppingAll) return; // `ham stop --all` came: it stops everything itself
        const x = this.ops.entity(m);
        if (x && (hasProcess(x.life) || restartComing(x.life))) await this.ops.holdStop(m, 'group');
      }
      for (const m of order) {
        if (this.stoppingAll) return;
        if (m === name) await this.ops.startNow(name, true);
        else if (along.includes(m) && heldFor(this.ops.entity(m), 'group')) await this.ops.startNow(m, true);
      }
    } finally {
      this.busy.delete(group);
    }
  }

  /** `name` runs now (or its start failed): start what was held waiting for it. */
  onSettled(name: string): void {
    if (this.stoppingAll) return;
    const e = this.ops.entity(name);
    if (e?.group && !this.busy.has(e.group)) {
      // Groups start in order: the next member held for its turn goes now.
      const next = this.members(e.group).find((m) => heldFor(this.ops.entity(m), 'group'));
      const x = next === undefined ? undefined : this.ops.entity(next);
      if (x && !this.waitsForGroup(x)) void this.ops.startNow(x.name, false);
    }
    if (up(e)) this.onRunning(name);
  }

  private onRunning(name: string): void {
    for (const d of this.dependants(name)) {
      const x = this.ops.entity(d);
      if (x && heldFor(x, 'requires') && this.requirementsUp(x)) {
        this.log('info', `${name} is back: starting ${d}, which requires it`, { entity: d });
        void this.ops.startNow(d, x.instance > 0); // its first start is not a restart
      }
    }
  }

  /** `name` stopped running: stop what requires it (held until it is back). */
  onDown(name: string): void {
    if (this.stoppingAll || up(this.ops.entity(name))) return;
    for (const d of this.dependants(name)) {
      const x = this.ops.entity(d);
      if (!x || holdOf(x.life)) continue;
      if (hasProcess(x.life)) {
        this.log('warn', `${name} is down: stopping ${d}, which requires it, until it is back`, { entity: d });
        void this.ops.holdStop(d, 'requires').then(() => this.onDown(d));
      } else if (restartComing(x.life) || restartAtOf(x.life) !== null) this.ops.holdInstead(d, 'requires');
    }
  }

  /**
   * The order `ham stop --all` stops in: waves, each of entities that nothing
   * still running requires and that are last of their group among those left.
   */
  stopWaves(names: string[]): string[][] {
    const all = this.ops.all();
    const byName = new Map(all.map((e) => [e.name, e]));
    const left = new Set(names);
    const waves: string[][] = [];
    while (left.size) {
      const wave = [...left].filter((n) => {
        const e = byName.get(n)!;
        if (this.dependants(n).some((d) => left.has(d))) return false;
        if (!e.group) return true;
        const order = this.members(e.group).filter((m) => left.has(m));
        return order[order.length - 1] === n;
      });
      if (wave.length === 0) return [...waves, [...left]]; // a cycle slipped in: stop the rest together
      for (const n of wave) left.delete(n);
      waves.push(wave);
    }
    return waves;
  }
}
