// `ham apply`'s commit: the plan (apply-plan.ts) written in one fenced write
// transaction, new placeholders encoded before it (commit.ts), then the change
// events and spawns a slice at a time.
import { HamError } from '../errors.js';
import { GLOBAL, type EntityRecord, type GroupSpec } from '../model/records.js';
import { paced, prepareNew } from './commit.js';
import type { Coordinator } from './coordinator.js';
import { emptyFired } from './dispatch.js';
import { blankEntity, createGlobal, fillPlaceholder, type NewEntity } from './entity-records.js';
import { Pacer } from './pace.js';
import type { SupervisorCore } from './supervisor-core.js';

/** `ham apply`: create and update entities in one transaction, then start the new ones. */
export async function commitApplyPlan(
  core: SupervisorCore,
  coord: Coordinator,
  creates: NewEntity[],
  updates: { name: string; fn: (x: EntityRecord) => void }[],
  groups?: Record<string, GroupSpec>,
): Promise<void> {
  const fired = emptyFired();
  const pace = new Pacer();
  // New placeholders encoded before the transaction (see commit.ts); others need the dispatcher inside it.
  const prep = await prepareNew(
    core.store,
    creates.filter((n) => n.kind === 'placeholder'),
    blankEntity,
    pace,
  );
  await pace.yield(); // the transaction starts a turn of its own, not at the end of a slice
  const made = core.write(() => {
    if (groups) core.store.putGroups(groups);
    coord.invalidate();
    // Ids taken meanwhile (an attach between slices): every record is made here instead.
    const usable = prep.byName.size > 0 && core.store.reserveIds(prep.byName.size) === prep.firstId;
    const out: EntityRecord[] = [];
    for (const n of creates) {
      const p = usable ? prep.byName.get(n.name) : undefined;
      if (p && !core.store.hasEntity(n.name)) {
        core.store.putEncodedEntity(n.name, p.encoded);
        out.push(p.rec);
        continue;
      }
      const old = core.store.entity(n.name);
      // Planned as new (or a placeholder to fill), but attached while the apply was planning: nothing is applied.
      if (old && old.kind !== 'placeholder')
        throw new HamError({
          code: 'duplicate-entity',
          entity: n.name,
          message: `${n.name} was attached while this apply was being planned; nothing was applied: apply the file again`,
        });
      const rec = old ? fillPlaceholder(old, n) : blankEntity(n, core.store.nextId());
      // It starts next (spawned below, paced): the table's attach, its conditions' attach fired with it.
      if (n.kind !== 'placeholder') core.parts.transitions.stepIn(rec, { tag: 'attach' }, { pid: n.pid ?? null }, fired);
      core.store.putEntity(rec);
      out.push(rec);
    }
    for (const u of updates) {
      const x = core.store.entity(u.name) ?? (u.name === GLOBAL ? createGlobal(core) : undefined);
      if (!x) continue;
      u.fn(x);
      core.store.putEntity(x);
    }
    return out;
  });
  core.publish(fired);
  const byName = new Map(creates.map((c) => [c.name, c])); // not creates.find per entity: O(n²) at 10,000
  for (const e of made) core.names.set(e.id, e.name);
  // Change events and spawns a slice at a time: 10,000 of them in one turn is a stall too.
  await paced(
    made,
    (e) => {
      core.events.emit('change', e.name);
      const n = byName.get(e.name)!;
      if (n.kind !== 'placeholder') core.parts.spawner.spawnSoon(e.name, n.pid);
    },
    pace,
  );
}
