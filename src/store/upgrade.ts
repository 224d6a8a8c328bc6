// Records as an older ham wrote them, read as this one's: fields added since
// get their defaults, and the eight lifecycle fields of hams before `life`
// (`state`, `desired`, `held`, `restarting`, `restartPending`, `awaiting`,
// `restartAt`; the keeper reference stays) become the one `life` they meant.
// Placed entities of early cluster hams kept the keeper's first deadline (HAM_FENCE_MS) in
// their env: it is given at each start now, so a stored one is dropped (else every apply
// of the placed definition, a takeover's first, saw a changed env and made the keeper stale).
import { ENTITY_DEFAULTS, entityDefaults } from '../model/defaults.js';
import { lifeOf, type LifeFields } from '../model/life.js';
import type { EntityRecord } from '../model/records.js';

const DEFAULT_KEYS = Object.keys(ENTITY_DEFAULTS) as (keyof EntityRecord)[];
const OLD_LIFE_KEYS = ['state', 'desired', 'held', 'restarting', 'restartPending', 'awaiting', 'restartAt'] as const satisfies readonly (keyof LifeFields)[];

/** The record an older ham's `e` means (`e` itself when it has every field: no copy, this is on every read). */
export function upgradeEntity(e: EntityRecord | undefined): EntityRecord | undefined {
  if (e?.env.HAM_FENCE_MS !== undefined && e.env.HAM_FENCE_TOKEN !== undefined) e = withoutFenceMs(e);
  if (!e || DEFAULT_KEYS.every((k) => k in e)) return e;
  const old = e as EntityRecord & Partial<LifeFields>;
  const out = { ...entityDefaults(), ...e } as EntityRecord & Partial<LifeFields>; // fresh arrays: callers mutate records
  if (!('life' in e)) {
    out.life = lifeOf(old);
    for (const k of OLD_LIFE_KEYS) delete out[k];
  }
  return out;
}

function withoutFenceMs(e: EntityRecord): EntityRecord {
  const { HAM_FENCE_MS: _, ...env } = e.env;
  return { ...e, env };
}
