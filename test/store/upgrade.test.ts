// A store written by an older ham (entity records without the newer fields)
// must not take the HAM down: missing fields read as their defaults.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureHome } from '../../src/home.js';
import { Store } from '../../src/store/store.js';
import type { EntityRecord } from '../../src/model/records.js';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, procsWith, sleeper, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe('an older store', () => {
  it('starts and serves: missing fields read as their defaults', async () => {
    const store = new Store(ensureHome(t.home).store);
    const old = {
      id: 1,
      name: 'old',
      kind: 'spawned',
      argv: sleeper(`${t.home}/old`),
      env: {},
      cwd: t.home,
      restart: true,
      desired: 'running',
      state: 'running',
      pid: null,
      pidStart: null,
      keeper: null,
      keeperSerial: 0,
      awaiting: null,
      restarting: false,
      restartAt: null,
      backoffMs: 0,
      instance: 1,
      restarts: 0,
      deaths: 0,
      lastExit: null,
      lastError: null,
      startedAt: null,
      diedAt: null,
      createdAt: Date.now(),
    };
    store.write(() => store.putEntity(old as unknown as EntityRecord));
    store.close();
    await hamJson(t.home, ['start', ...CALM]);
    const s = await waitStatus(t.home, 'old running', (x) => entity(x, 'old').state === 'running' && entity(x, 'old').pid !== null);
    expect(entity(s, 'old')).toMatchObject({ conditions: [], enabled: true, heartbeat: null });
    expect(procsWith(`${t.home}/old`)).toEqual([entity(s, 'old').pid]);
  });
});
