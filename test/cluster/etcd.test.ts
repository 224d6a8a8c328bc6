// The ownership transaction (src/cluster/etcd.ts createOnce) against a real etcd: an owner key is
// never created while its entity is stopped cluster-wide, so a race queued before a `ham stop`
// cannot place it after; without the stopped key it is created once, the second try told who holds it.
import { Etcd3 } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOnce, grantLease } from '../../src/cluster/etcd.js';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let client: Etcd3;
beforeEach(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: etcd.url });
});
afterEach(async () => {
  client.close();
  await etcd.stop();
});

describe('createOnce', () => {
  it('creates nothing while the `unless` key (stopped/NAME) exists', async () => {
    const lease = await grantLease(client, 10_000);
    await client.put('/ham/stopped/db').value('{"by":"b"}');
    const r = await createOnce(client, '/ham/owners/db', 'a', lease, '/ham/stopped/db');
    expect(r.created).toBe(false);
    expect(await client.get('/ham/owners/db').string()).toBeNull();
    // `ham start db` deletes it: the next race places it.
    await client.delete().key('/ham/stopped/db');
    const again = await createOnce(client, '/ham/owners/db', 'a', lease, '/ham/stopped/db');
    expect(again.created).toBe(true);
    expect(await client.get('/ham/owners/db').string()).toBe('a');
    const other = await createOnce(client, '/ham/owners/db', 'b', lease, '/ham/stopped/db');
    expect(other).toMatchObject({ created: false, value: 'a', lease });
    if (again.created) expect(other.revision).toBe(again.revision);
  });
});
