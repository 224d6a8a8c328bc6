// A cluster through etcd's own users (README "Cluster", `auth:`), against a real etcd with
// authentication enabled by etcdctl in the test: nodes join and place with the right
// password; a wrong one is refused at apply in plain words and nothing is applied.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { clusterWorld, type ClusterWorld } from '../helpers/cluster.js';
import { witnessed } from '../helpers/etcd.js';
import { ham, sleeper, status, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

const etcdctl = (url: string, args: string[]): void =>
  void execFileSync('etcdctl', [`--endpoints=${url}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['ignore', 'ignore', 'pipe'] });

describe('a cluster with etcd authentication', () => {
  it('joins and places with the right password; a wrong one is refused at apply, nothing applied', async () => {
    world = await clusterWorld({ nodes: ['a', 'b'], ttlMs: 4000, join: false });
    const w = world;
    const url = w.etcd.url;
    etcdctl(url, ['user', 'add', 'root:s3cret']);
    etcdctl(url, ['auth', 'enable']);
    const block = (node: string, password: string) => ({ cluster: { etcd: [url], node, ttlMs: 4000, auth: { username: 'root', password } } });
    const wrong = await w.applyRun('a', { ...block('a', 'nope'), entities: { local: { command: sleeper('auth-never') } } });
    expect(wrong.code).not.toBe(0);
    const text = wrong.stdout + wrong.stderr;
    expect(text).toContain(`expected etcd to answer at ${url}`);
    expect(text).toMatch(/authentication failed|invalid user ID or password/);
    expect(text).not.toContain('nope'); // the password is never echoed
    expect((await status(w.homes.a!)).entities.map((e) => e.name)).not.toContain('local');
    await w.apply('a', block('a', 's3cret'));
    await w.apply('b', block('b', 's3cret'));
    await waitFor('both nodes seen from a', async () => (await w.status('a')).nodes.length === 2, 30_000);
    await w.apply('a', { entities: { db: { command: witnessed(w.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'] } } } });
    await waitFor('db running on a', w.runningOn('a', 'db'), 30_000);
    const cs = await ham(w.homes.a!, ['--json', 'cluster', 'status']);
    expect(cs.stdout).not.toContain('s3cret'); // status shows no password
  }, 120_000);
});
