// `ham restart --group G` as a roll kept in the store (model/rolls.ts): which
// members, which one is being restarted and its instance when that was asked.
// Each step is written before it is taken, so a HAM taking over (SIGKILL of the
// previous one mid-roll) carries the roll on from the member it was at; a
// `ham start` of a stopped pair (every entity started again anyway) drops it,
// and says so in the log.
import { HamError } from '../errors.js';
import { MAX_ROLLS, type RollRecord } from '../model/rolls.js';
import type { SupervisorCore } from './supervisor-core.js';

export interface RollDone {
  entity: { name: string };
}

/** What a roll asks of the requests by name (ByName). */
export interface RollSteps<D extends RollDone> {
  restart(name: string, wait: true): Promise<D>;
  /** The member whose restart a previous HAM asked (its instance then: `before`): until it is back. */
  carryOn(name: string, before: number): Promise<D>;
}

export class Rolls<D extends RollDone> {
  constructor(
    private readonly core: SupervisorCore,
    private readonly steps: RollSteps<D>,
  ) {}

  /** A new roll of `group` over `todo`, stored; refused while one of that group is under way, or at the bound. */
  begin(group: string, todo: string[]): RollRecord {
    const all = this.core.store.rolls();
    const under = all.find((r) => r.group === group);
    if (under)
      throw new HamError({
        code: 'bad-request',
        message: `restart --group ${group}: expected no restart of that group under way, one is (at ${under.todo[under.next] ?? 'its end'}, ${under.next + 1} of ${under.todo.length})`,
      });
    if (all.length >= MAX_ROLLS)
      throw new HamError({
        code: 'bad-request',
        message: `restart --group ${group}: expected at most ${MAX_ROLLS} group restarts under way at once, got ${all.length}`,
      });
    const roll: RollRecord = { group, todo, next: 0, before: null, startedAt: Date.now() };
    this.save(roll);
    return roll;
  }

  /** Its members from `next` on, one at a time; the roll leaves the store when it ends (done or not). */
  async run(roll: RollRecord): Promise<D[]> {
    const done: D[] = [];
    try {
      while (roll.next < roll.todo.length) {
        const name = roll.todo[roll.next]!;
        if (roll.before === null) {
          roll.before = this.core.mustGet(name).instance;
          this.save(roll); // before the ask: a HAM taking over knows which instance it replaces
          done.push(await this.steps.restart(name, true));
        } else done.push(await this.steps.carryOn(name, roll.before));
        roll.next++;
        roll.before = null;
        if (roll.next < roll.todo.length) this.save(roll);
      }
    } finally {
      this.drop(roll.group);
    }
    return done;
  }

  /** After a takeover: every roll carried on; at a fresh start (`ham start`), dropped and said. */
  resumeAll(fresh: boolean): void {
    const rolls = this.core.store.rolls();
    if (rolls.length === 0) return;
    if (fresh) {
      for (const r of rolls)
        this.core.log('warn', 'restart --group not carried on: the pair was stopped in the middle (every entity started again)', {
          group: r.group,
          at: r.todo[r.next],
        });
      this.core.write(() => this.core.store.putRolls([]));
      return;
    }
    for (const r of rolls) {
      this.core.log('info', 'restart --group carried on after a takeover', { group: r.group, at: r.todo[r.next], n: r.next + 1, of: r.todo.length });
      // Once the resume is over (its keepers, its readiness watches): then as any roll.
      setImmediate(
        () => void this.run(r).catch((err: unknown) => this.core.log('error', 'restart --group stopped', { group: r.group, error: (err as Error).message })),
      );
    }
  }

  private save(roll: RollRecord): void {
    this.core.write(() => this.core.store.putRolls([...this.core.store.rolls().filter((r) => r.group !== roll.group), roll]));
  }

  private drop(group: string): void {
    try {
      this.core.write(() => this.core.store.putRolls(this.core.store.rolls().filter((r) => r.group !== group)));
    } catch {
      /* fenced: no longer the HAM; the one that is carries it on */
    }
  }
}
