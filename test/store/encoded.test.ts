// Entity records as plain msgpack maps, encoded before an apply's transaction
// (src/ham/commit.ts): they read back as written, records an older ham wrote
// (msgpackr records, each with its own structure) still read, and ids
// reserved in a block follow the ones taken one at a time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { blankEntity } from '../../src/ham/supervisor.js';
import { Store } from '../../src/store/store.js';
import type { EntityRecord } from '../../src/model/records.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_STOP_POLICY } from '../../src/model/defaults.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-encoded-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const placeholder = (name: string, id: number): EntityRecord =>
  blankEntity(
    {
      name,
      kind: 'placeholder',
      argv: [],
      env: {},
      cwd: '/',
      conditions: [],
      restartPolicy: DEFAULT_RESTART_POLICY,
      stopPolicy: DEFAULT_STOP_POLICY,
      group: null,
      requires: [],
    },
    id,
  );

describe('entity records', () => {
  it('encoded outside a transaction, stored inside it: read back equal', () => {
    const store = new Store(join(dir, 'store'));
    try {
      const recs = Array.from({ length: 50 }, (_, i) => placeholder(`ph-${i}`, i + 1));
      const encoded = recs.map((r) => store.encodeEntity(r)); // each its own bytes (the encoder reuses its buffer)
      expect(store.hasEntity('ph-0')).toBe(false);
      store.write(() => recs.forEach((r, i) => store.putEncodedEntity(r.name, encoded[i]!)));
      expect(store.hasEntity('ph-0')).toBe(true);
      for (const r of recs) expect(store.entity(r.name)).toEqual(r);
    } finally {
      store.close();
    }
  });

  it('written by an older ham as msgpackr records: still read', () => {
    const old = placeholder('old', 7);
    const root = open({ path: join(dir, 'store'), maxDbs: 16 });
    const db = root.openDB<EntityRecord, string>({ name: 'entities', encoding: 'msgpack' });
    root.transactionSync(() => {
      db.putSync('old', old);
      db.putSync('old2', { ...old, name: 'old2', id: 8 });
    });
    root.close();
    const store = new Store(join(dir, 'store'));
    try {
      expect(store.entity('old')).toEqual(old);
      expect(store.allEntities().map((e) => e.name)).toEqual(['old', 'old2']);
    } finally {
      store.close();
    }
  });

  it('ids reserved in a block follow those taken one at a time, and the next follows the block', () => {
    const store = new Store(join(dir, 'store'));
    try {
      expect(store.write(() => store.nextId())).toBe(1);
      expect(store.peekNextId()).toBe(2);
      expect(store.write(() => store.reserveIds(1000))).toBe(2);
      expect(store.peekNextId()).toBe(1002);
      expect(store.write(() => store.reserveIds(0))).toBe(1002);
      expect(store.write(() => store.nextId())).toBe(1002);
    } finally {
      store.close();
    }
  });
});
