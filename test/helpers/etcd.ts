// A real etcd for the cluster tests (Debian's etcd 3.4, v3 API): each test starts its own on
// free loopback ports with a temporary data folder and kills it by pid. Also a TCP proxy the
// test can break (a node cut from etcd) and a witness every placed instance reports to.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { waitFor } from './ham.js';

export interface TestEtcd {
  url: string;
  port: number;
  /** SIGKILL it (its data stays: `start()` brings it back on the same port). */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** etcd over TLS: its certificate and key (files), and with clientCa, client certificates signed by it required. */
export interface EtcdTls {
  cert: string;
  key: string;
  clientCa?: string;
  /** For the health check: a client certificate the server accepts. */
  client?: { ca: string; cert: string; key: string };
}

async function healthy(port: number, tls?: EtcdTls): Promise<boolean> {
  if (tls) return healthyTls(port, tls);
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok && ((await r.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

function healthyTls(port: number, tls: EtcdTls): Promise<boolean> {
  const c = tls.client;
  const o = c ? { ca: readFileSync(c.ca), cert: readFileSync(c.cert), key: readFileSync(c.key) } : { rejectUnauthorized: false };
  return new Promise((resolve) => {
    const req = httpsGet({ host: '127.0.0.1', port, path: '/health', timeout: 1000, ...o }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => resolve(r.statusCode === 200 && body.includes('"health":"true"')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => (req.destroy(), resolve(false)));
  });
}

export async function startEtcd(o: { tls?: EtcdTls } = {}): Promise<TestEtcd> {
  const [port, peer] = (await freePorts(2)) as [number, number];
  const dir = mkdtempSync(join(tmpdir(), 'ham-etcd-'));
  let child: ChildProcess | undefined;
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const tlsArgs = o.tls
    ? [`--cert-file=${o.tls.cert}`, `--key-file=${o.tls.key}`, ...(o.tls.clientCa ? ['--client-cert-auth', `--trusted-ca-file=${o.tls.clientCa}`] : [])]
    : [];
  const start = async (): Promise<void> => {
    const c = spawn(
      'etcd',
      [
        '--name=t',
        `--data-dir=${dir}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=t=http://127.0.0.1:${peer}`,
        '--heartbeat-interval=100',
        '--election-timeout=500',
        '--log-level=error',
        ...tlsArgs,
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    child = c;
    await waitFor('etcd healthy', () => healthy(port, o.tls), 30_000, 100);
  };
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    process.kill(c.pid!, 'SIGKILL');
    await gone;
  };
  await start();
  return {
    url,
    port,
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP proxy to `target` on a free port; `cut()` drops every connection and refuses new ones until `mend()`. */
export async function startProxy(target: number): Promise<{ url: string; cut(): void; mend(): void; close(): Promise<void> }> {
  const [port] = await freePorts(1);
  const open = new Set<Socket>();
  let broken = false;
  const server: Server = createServer((a) => {
    if (broken) return void a.destroy();
    const b = createConnection(target, '127.0.0.1');
    open.add(a).add(b);
    a.pipe(b).pipe(a);
    const end = (): void => void (a.destroy(), b.destroy(), open.delete(a), open.delete(b));
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(port!, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      broken = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    mend: () => void (broken = false),
    close: () => new Promise((r) => (server.close(() => r()), [...open].forEach((s) => s.destroy()))),
  };
}

/**
 * The witness: every instance of a placed entity connects and says "TOKEN NODE ENTITY" (kept with
 * when); its connection closes when its process ends. Overlaps (two instances of one entity open at
 * once) and tokens that do not rise (per entity) are kept.
 */
export interface Witness {
  port: number;
  live: () => WitnessedRun[];
  all: WitnessedRun[];
  overlaps: string[];
  close(): Promise<void>;
}

export interface WitnessedRun {
  token: number;
  node: string;
  entity: string;
  at: number;
}

export async function startWitness(): Promise<Witness> {
  const live = new Set<WitnessedRun>();
  const all: WitnessedRun[] = [];
  const overlaps: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    let buf = '';
    let me: WitnessedRun | undefined;
    s.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (me || nl < 0) return;
      const [token, node, entity] = buf.slice(0, nl).split(' ');
      const run = { token: Number(token), node: node ?? '?', entity: entity ?? '', at: Date.now() };
      me = run;
      const same = [...live].filter((l) => l.entity === run.entity);
      if (same.length > 0)
        overlaps.push(`${run.entity} on ${run.node} (token ${run.token}) started while ${same.map((l) => `${l.node} (${l.token})`).join(', ')} ran`);
      const last = all.filter((l) => l.entity === run.entity).pop();
      // A restart on the same node under the same ownership keeps its token; a new owner's must be higher.
      if (last && (run.token < last.token || (run.token === last.token && run.node !== last.node)))
        overlaps.push(`${run.entity}: token ${run.token} (${run.node}) after ${last.token} (${last.node}): tokens must rise`);
      live.add(run);
      all.push(run);
    });
    s.on('close', () => (me && live.delete(me), sockets.delete(s)));
    s.on('error', () => undefined);
  });
  const [port] = await freePorts(1);
  await new Promise<void>((r) => server.listen(port!, '127.0.0.1', r));
  return {
    port: port!,
    live: () => [...live],
    all,
    overlaps,
    close: () => new Promise((r) => (server.close(() => r()), [...sockets].forEach((s) => s.destroy()))),
  };
}

/** A placed instance that reports as `witnessed` does, then exits 1 at once while DIR/fail-NODE exists (else it sleeps). */
export function failing(port: number, dir: string): string[] {
  const code =
    'use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "witness: $!"; $s->autoflush(1); print $s "$ENV{HAM_FENCE_TOKEN} $ENV{HAM_TEST_NODE} $ENV{HAM_ENTITY}\\n"; select(undef, undef, undef, 0.2); exit 1 if -e "$ARGV[1]/fail-$ENV{HAM_TEST_NODE}"; sleep 100000';
  return ['perl', '-e', code, String(port), dir];
}

/** A placed instance: reports its token, node (HAM_TEST_NODE, from its node's base environment) to the witness, then sleeps. */
export function witnessed(port: number): string[] {
  const code =
    'use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "witness: $!"; $s->autoflush(1); print $s "$ENV{HAM_FENCE_TOKEN} $ENV{HAM_TEST_NODE} $ENV{HAM_ENTITY}\\n"; sleep 100000';
  return ['perl', '-e', code, String(port)];
}
