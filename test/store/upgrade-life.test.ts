// Records an older ham wrote kept the lifecycle in eight fields; this ham
// stores one `life`. The migration on read, on its own and through a real
// store (LMDB in a temp home; no daemon).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureHome } from '../../src/home.js';
import { entityDefaults } from '../../src/model/defaults.js';
import type { EntityRecord } from '../../src/model/records.js';
import { Store } from '../../src/store/store.js';
import { upgradeEntity } from '../../src/store/upgrade.js';

const OLD_KEYS = ['state', 'desired', 'held', 'restarting', 'restartPending', 'awaiting', 'restartAt'];

/** A record as a ham before `life` wrote it: every field of its time, the lifecycle in fields. */
function oldRecord(name: string, lifeFields: Record<string, unknown>): EntityRecord {
  const { life: _none, ...d } = entityDefaults();
  return {
    ...d,
    id: 1,
    name,
    kind: 'spawned',
    argv: ['sleep', '1000'],
    env: {},
    cwd: '/',
    createdAt: 1,
    state: 'stopped',
    desired: 'running',
    held: null,
    restarting: false,
    restartPending: false,
    awaiting: null,
    restartAt: null,
    ...lifeFields,
  } as unknown as EntityRecord;
}

describe('upgradeEntity', () => {
  it('reads the old fields as the one lifecycle they meant, and drops them', () => {
    const cases: [Record<string, unknown>, EntityRecord['life']][] = [
      [{ state: 'running' }, { tag: 'running' }],
      [
        { state: 'starting', restarting: true, awaiting: 3 },
        { tag: 'starting', restart: true, via: 3 },
      ],
      [
        { state: 'dead', restartPending: true, restartAt: 500, awaiting: 2 },
        { tag: 'dead', parked: 2, restart: { at: 500 } },
      ],
      [
        { state: 'dead', restartPending: true, awaiting: 2 },
        { tag: 'dead', parked: 2, restart: 'undecided' },
      ],
      [
        { state: 'running', desired: 'stopped', held: 'group' },
        { tag: 'stopping', started: true, restart: false, via: null, then: 'group' },
      ],
      [
        { state: 'stopped', desired: 'stopped', held: 'requires', awaiting: 4 },
        { tag: 'held', why: 'requires', parked: 4 },
      ],
      [
        { state: 'dead', desired: 'stopped' },
        { tag: 'stopped', parked: null },
      ],
      [
        { state: 'failed', awaiting: 6 },
        { tag: 'failed', parked: 6 },
      ],
      [{ state: 'stopped' }, { tag: 'idle' }],
    ];
    for (const [fields, life] of cases) {
      const e = upgradeEntity(oldRecord('x', fields))!;
      expect(e.life, JSON.stringify(fields)).toEqual(life);
      for (const k of OLD_KEYS) expect(k in e, k).toBe(false);
    }
  });

  it('a record older still (no held, no restartPending, no newer fields) gets its defaults too', () => {
    const {
      held: _h,
      restartPending: _p,
      conditions: _c,
      requires: _r,
      ...older
    } = oldRecord('y', { state: 'dead', restartAt: 9 }) as unknown as Record<string, unknown>;
    const e = upgradeEntity(older as unknown as EntityRecord)!;
    expect(e.life).toEqual({ tag: 'dead', parked: null, restart: { at: 9 } });
    expect(e.conditions).toEqual([]);
    expect(e.requires).toEqual([]);
  });

  it("leaves this ham's records as they are (the same object: no copy on every read)", () => {
    const e = { ...oldRecord('z', {}), life: { tag: 'running' } } as EntityRecord;
    for (const k of OLD_KEYS) delete (e as unknown as Record<string, unknown>)[k];
    expect(upgradeEntity(e)).toBe(e);
    expect(upgradeEntity(undefined)).toBeUndefined();
  });
});

describe('a store holding old records', () => {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ham-upgrade-life-'));
    store = new Store(ensureHome(join(dir, 'home')).store);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads them migrated by every read path, and writes back only the new form', () => {
    store.write(() => {
      store.putEntity(oldRecord('a', { state: 'stopped', desired: 'stopped', held: 'group', awaiting: 1 }));
      store.putEntity({ ...oldRecord('b', { state: 'running' }), id: 2 });
    });
    const held = { tag: 'held', why: 'group', parked: 1 };
    expect(store.entity('a')!.life).toEqual(held);
    expect(store.allEntities().map((e) => e.life)).toEqual([held, { tag: 'running' }]);
    expect(store.entitiesAfter(undefined, 10).map((e) => e.name)).toEqual(['a', 'b']);
    store.write(() => store.putEntity(store.entity('a')!));
    const raw = store.entity('a') as unknown as Record<string, unknown>;
    expect(raw.life).toEqual(held);
    for (const k of OLD_KEYS) expect(k in raw, k).toBe(false);
  });
});
