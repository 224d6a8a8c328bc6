// The node's etcd connection (the etcd3 package, loaded only by a HAM in a cluster): a client
// that fails fast (the HAM decides what a failure means: its own retries and deadlines, not a
// circuit breaker's), the lease, and the one transaction ownership rests on.
import { hostname } from 'node:os';
import { Etcd3, type IOptions } from 'etcd3';
import { HamError } from '../model/errors.js';
import type { ClusterConfig } from '../model/cluster.js';
import { failureText } from './etcd-failure.js';

/** Every call is tried once, on the next host: a retry is the renewal loop's business. */
const direct = { execute: <T>(fn: (c: unknown) => T | Promise<T>) => Promise.resolve().then(() => fn({ signal: new AbortController().signal, attempt: 0 })) };
/** A watch reconnects soon after etcd is back (the default backoff grows to 30 s). */
const soon = { duration: 250, next: () => soon };

export function connect(c: ClusterConfig, callMs: number): Etcd3 {
  const o: IOptions = {
    hosts: c.etcd,
    dialTimeout: callMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callMs }),
    faultHandling: { host: () => direct as never, global: direct as never, watchBackoff: soon as never },
    ...(c.auth ? { auth: c.auth } : {}),
    // What apply read (kept in the store): never the files again, which may have changed since.
    ...(c.tls
      ? {
          credentials: {
            rootCertificate: Buffer.from(c.tls.ca),
            ...(c.tls.cert && c.tls.key ? { certChain: Buffer.from(c.tls.cert), privateKey: Buffer.from(c.tls.key) } : {}),
          },
        }
      : {}),
  };
  return new Etcd3(o);
}

export const ttlSeconds = (ttlMs: number): number => Math.max(2, Math.ceil(ttlMs / 1000));
export const nodeKey = (c: ClusterConfig, node: string): string => `${c.prefix}nodes/${node}`;
export const defKey = (c: ClusterConfig, name: string): string => `${c.prefix}defs/${name}`;
export const ownerKey = (c: ClusterConfig, name: string): string => `${c.prefix}owners/${name}`;
export const moveKey = (c: ClusterConfig, name: string): string => `${c.prefix}moves/${name}`;
export const gaveUpKey = (c: ClusterConfig, name: string, node: string): string => `${c.prefix}gaveup/${name}/${node}`;
export const stoppedKey = (c: ClusterConfig, name: string): string => `${c.prefix}stopped/${name}`;

export function unreachable(c: ClusterConfig, e: unknown): HamError {
  return new HamError({
    code: 'cluster-unreachable',
    message: `expected etcd to answer at ${c.etcd.join(', ')}, got: ${failureText(c, e)}; nothing was applied`,
  });
}

/** The remaining TTL of `lease` (s), 0 if it expired or never was. */
export async function leaseTtl(etcd: Etcd3, lease: string): Promise<number> {
  const r = await etcd.leaseClient.leaseTimeToLive({ ID: lease, keys: false });
  return Number(r.TTL);
}

export async function grantLease(etcd: Etcd3, ttlMs: number): Promise<string> {
  const r = await etcd.leaseClient.leaseGrant({ TTL: ttlSeconds(ttlMs), ID: 0 });
  return String(r.ID);
}

/** One keepalive of `lease`: its TTL as etcd answered (0: gone). */
export async function keepAlive(etcd: Etcd3, lease: string, timeoutMs: number): Promise<number> {
  const stream = await etcd.leaseClient.leaseKeepAlive();
  try {
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no keepalive answer within ${timeoutMs} ms`)), timeoutMs);
      stream.on('data', (r: { TTL: string }) => (clearTimeout(t), resolve(Number(r.TTL))));
      stream.on('error', (e: Error) => (clearTimeout(t), reject(e)));
      stream.write({ ID: lease });
    });
  } finally {
    stream.end();
  }
}

/**
 * Create `key` = `value` under `lease` only if it does not exist (create revision 0), nor does
 * `unless` (an owner key is never created while its entity is stopped cluster-wide: a race and a
 * `ham stop` exclude each other), and `requires` does (nor once its definition is removed: a race
 * and a `ham detach` exclude each other). Returns the revision it was created at (the fencing
 * token), or the value and lease of who holds it (none, revision 0, when only `unless` or
 * `requires` stood in the way).
 */
export async function createOnce(
  etcd: Etcd3,
  key: string,
  value: string,
  lease: string,
  unless?: string,
  requires?: string,
): Promise<{ created: true; revision: string } | { created: false; value: string; lease: string; revision: string }> {
  let cmp = etcd.if(key, 'Create', '==', 0);
  if (unless !== undefined) cmp = cmp.and(unless, 'Create', '==', 0);
  if (requires !== undefined) cmp = cmp.and(requires, 'Create', '>', 0);
  const r = await cmp.then(etcd.put(key).value(value).lease(lease)).else(etcd.get(key)).commit();
  if (r.succeeded) return { created: true, revision: String(r.header.revision) };
  const kv = r.responses[0]?.response_range?.kvs[0];
  return { created: false, value: kv ? kv.value.toString() : '', lease: kv ? String(kv.lease) : '0', revision: kv ? String(kv.create_revision) : '0' };
}

/** Delete `name`'s owner key only if it is still the one of `token` (created at that revision). */
export async function dropOwner(etcd: Etcd3, c: ClusterConfig, name: string, token: string): Promise<void> {
  await etcd
    .if(ownerKey(c, name), 'Create', '==', token)
    .then(etcd.delete().key(ownerKey(c, name)))
    .commit();
}

/** Claim this node's name under its lease; a name another live node holds is refused. */
export async function claimNode(etcd: Etcd3, c: ClusterConfig, lease: string): Promise<void> {
  const me = JSON.stringify({ host: hostname(), pid: process.pid });
  const r = await createOnce(etcd, nodeKey(c, c.node), me, lease);
  if (r.created || r.lease === lease) return;
  throw new HamError({
    code: 'node-taken',
    message: `expected the node name ${JSON.stringify(c.node)} to be free in the cluster, got it held by a live node (${r.value}); nothing was applied`,
  });
}

/** Every key under `prefix` as a map (key without the prefix → value, lease, create revision). */
export async function rangeUnder(etcd: Etcd3, prefix: string): Promise<Map<string, { value: string; lease: string; revision: string }>> {
  const r = await etcd.getAll().prefix(prefix).exec();
  const out = new Map<string, { value: string; lease: string; revision: string }>();
  for (const kv of r.kvs)
    out.set(kv.key.toString().slice(prefix.length), { value: kv.value.toString(), lease: String(kv.lease), revision: String(kv.create_revision) });
  return out;
}
