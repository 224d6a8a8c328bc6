// A cluster over TLS against a real etcd (README "Cluster", TLS) with certificates made by
// openssl in the test: etcd requires client certificates (--client-cert-auth); placement
// works; a takeover on the owner's node reconnects with what apply read (the files on disk
// since replaced); bad files, a wrong CA, a wrong server name and a missing client
// certificate are refused at apply in plain words naming the endpoint or the file.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterWorld, type ClusterWorld } from '../helpers/cluster.js';
import { witnessed } from '../helpers/etcd.js';
import { ham, killAll, sleeper, status, waitFor } from '../helpers/ham.js';
import { makeCerts, type TestCerts } from '../helpers/tls.js';

let certs: TestCerts;
let world: ClusterWorld | undefined;
beforeEach(() => {
  certs = makeCerts();
});
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
  certs.remove();
});

const etcdTls = () => ({
  cert: certs.serverCert,
  key: certs.serverKey,
  clientCa: certs.ca,
  client: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
});

describe('a cluster over TLS', () => {
  it('places an entity over TLS with a client certificate; a takeover reconnects with what apply read', async () => {
    // Each node's own copies of the files: node a's are replaced on disk after its apply.
    const files = (n: string) => {
      const f = { ca: join(certs.dir, `${n}-ca.pem`), cert: join(certs.dir, `${n}-cert.pem`), key: join(certs.dir, `${n}-key.pem`) };
      (copyFileSync(certs.ca, f.ca), copyFileSync(certs.clientCert, f.cert), copyFileSync(certs.clientKey, f.key));
      return f;
    };
    world = await clusterWorld({ nodes: ['a', 'b'], ttlMs: 6000, tls: etcdTls(), block: (n) => ({ tls: files(n) }) });
    const { homes, witness } = world;
    expect(world.etcd.url).toMatch(/^https:/);
    await world.apply('a', { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'] } } } });
    await waitFor('db running on a', world.runningOn('a', 'db'), 30_000);
    const v = await world.status('a');
    expect(v.connected).toBe(true);
    expect(v.tls).toEqual({ ca: join(certs.dir, 'a-ca.pem'), cert: join(certs.dir, 'a-cert.pem') });
    const text = await ham(homes.a!, ['cluster', 'status']);
    expect(text.stdout).toContain(`tls: ca ${join(certs.dir, 'a-ca.pem')}`);
    // The files change on disk (a CA that signed nothing, a key that is not one): the node keeps what apply read.
    copyFileSync(certs.otherCa, join(certs.dir, 'a-ca.pem'));
    writeFileSync(join(certs.dir, 'a-key.pem'), 'not a key\n');
    const before = await status(homes.a!);
    process.kill(before.ham.pid!, 'SIGKILL');
    const killedAt = Date.now();
    await waitFor(
      'the new HAM renewing over TLS past a TTL',
      async () => {
        const s = await status(homes.a!);
        const c = await world!.status('a');
        return s.ham.pid !== before.ham.pid && c.connected && c.lastRenewal !== null && Date.parse(c.lastRenewal) > killedAt + 6000;
      },
      40_000,
      100,
    );
    expect(witness.all).toHaveLength(1);
    expect(world.runningOn('a', 'db')()).toBe(true);
    // And node loss over TLS: b takes it, after, with a higher token.
    killAll(homes.a!);
    await waitFor('db running on b', world.runningOn('b', 'db'), 30_000);
    expect(witness.overlaps).toEqual([]);
  }, 180_000);

  it('refuses at apply, in plain words, bad files, a wrong CA, a wrong server name and a missing client certificate; nothing is applied', async () => {
    world = await clusterWorld({ nodes: ['a'], ttlMs: 3000, tls: etcdTls(), join: false });
    const url = world.etcd.url;
    const good = { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const tryJoin = async (etcd: string, tls: object | undefined) => {
      const r = await world!.applyRun('a', {
        cluster: { etcd: [etcd], node: 'a', ttlMs: 3000, ...(tls ? { tls } : {}) },
        entities: { local: { command: sleeper('tls-never') } },
      });
      expect(r.code).not.toBe(0);
      return r.stdout + r.stderr;
    };
    const wrongCa = await tryJoin(url, { ...good, ca: certs.otherCa });
    expect(wrongCa).toContain(`expected etcd to answer at ${url}`);
    expect(wrongCa).toContain(`not signed by the CA in cluster.tls.ca (${certs.otherCa})`);
    expect(wrongCa).not.toContain('UNAVAILABLE');
    const noClient = await tryJoin(url, { ca: certs.ca });
    expect(noClient).toContain('etcd asks for a client certificate');
    const wrongName = await tryJoin(url.replace('127.0.0.1', 'localhost'), good);
    expect(wrongName).toMatch(/not for the name or address in the endpoint|expected etcd to answer at https:\/\/localhost/);
    const missing = join(certs.dir, 'missing.pem');
    const bad = await tryJoin(url, { ca: missing, cert: certs.clientKey, key: certs.clientCert });
    expect(bad).toContain(`cluster.tls.ca: expected a PEM file of CA certificates (-----BEGIN CERTIFICATE-----) at ${missing}, got no such file`);
    expect(bad).toContain(`cluster.tls.cert`);
    expect(bad).toContain('a private key: give it as cluster.tls.key');
    expect(bad).toContain('cluster.tls.key');
    expect(bad).toContain('not a private key');
    const otherKey = join(certs.dir, 'other-ca-key.pem');
    expect(await tryJoin(url, { ...good, key: otherKey })).toContain(
      `expected the private key of the certificate ${certs.clientCert}, got another key (${otherKey})`,
    );
    expect(await tryJoin(url, { ca: certs.ca, cert: certs.clientCert })).toContain('cert and key together');
    expect(await tryJoin(url.replace('https', 'http'), good)).toContain('https:// endpoints with tls');
    expect(await tryJoin(url, { ...good, ca: certs.dir })).toContain('got a directory');
    expect((await status(world.homes.a!)).entities.map((e) => e.name)).not.toContain('local');
    const cs = await ham(world.homes.a!, ['--json', 'cluster', 'status']);
    expect(cs.stdout + cs.stderr).toContain('not-in-cluster');
  }, 120_000);
});
