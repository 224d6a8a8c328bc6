// tcp-check against a real listening TCP server, a closed port, and a
// listener whose accept queue is full (connects hang: the kernel drops SYNs).
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run, Scope } from './helpers.js';

let server: Server;
let port: number;
let closedPort: number;
let accepted = 0;
const sockets = new Set<Socket>();

function listen(s: Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

beforeAll(async () => {
  server = createServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.resume();
  });
  port = await listen(server);
  const probe = createServer();
  closedPort = await listen(probe);
  await new Promise<void>((r) => probe.close(() => r()));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

let scope: Scope;
const fillers: Socket[] = [];
beforeEach(() => {
  scope = new Scope();
});
afterEach(async () => {
  for (const s of fillers.splice(0)) s.destroy();
  await scope.cleanup();
});

/**
 * A port where connecting hangs: a Perl listener with backlog 0 that never
 * accepts, its queue filled with our own connections until one stays pending.
 */
async function blackHole(): Promise<number> {
  const listener = scope.spawn('perl', [
    '-MSocket',
    '-e',
    'socket(my $s, PF_INET, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die; listen($s, 0) or die; $| = 1; print((unpack_sockaddr_in(getsockname($s)))[0], "\\n"); sleep 120',
  ]);
  const p = Number(await Scope.line(listener, /^\d+$/));
  for (let i = 0; i < 16; i++) {
    const s = connect(p, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
    const ok = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 300);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!ok) return p;
  }
  throw new Error(`the accept queue of 127.0.0.1:${p} never filled`);
}

describe('tcp-check', () => {
  it('a listening port: exit 0, one line with the latency, one connection made', async () => {
    const before = accepted;
    const r = await run('tcp-check', [`127.0.0.1:${port}`]);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.line).toMatch(new RegExp(`^connected to 127\\.0\\.0\\.1:${port} in \\d+(\\.\\d)? ms$`));
    expect(accepted).toBe(before + 1);
  });

  it('--max-ms generous: still healthy', async () => {
    const r = await run('tcp-check', [`127.0.0.1:${port}`, '--max-ms', '5000']);
    expect(r.code).toBe(0);
  });

  it('a name with several addresses: the refused one is skipped', async () => {
    const r = await run('tcp-check', [`localhost:${port}`]);
    expect(r.code).toBe(0);
    expect(r.line).toMatch(new RegExp(`^connected to localhost:${port} in`));
  });

  it('a connect that hangs: gives up 100 ms before the host would kill it (HAM_TIMEOUT_MS)', async () => {
    const hole = await blackHole();
    const r = await run('tcp-check', [`127.0.0.1:${hole}`], { HAM_TIMEOUT_MS: '400' });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`connect to 127.0.0.1:${hole} timed out after 300 ms`]);
    expect(r.ms).toBeLessThan(1500);
    // Never under 100 ms.
    const short = await run('tcp-check', [`127.0.0.1:${hole}`], { HAM_TIMEOUT_MS: '120' });
    expect(short.lines).toEqual([`connect to 127.0.0.1:${hole} timed out after 100 ms`]);
    // --timeout-ms and a smaller --max-ms win over it.
    const explicit = await run('tcp-check', [`127.0.0.1:${hole}`, '--timeout-ms', '200'], { HAM_TIMEOUT_MS: '10000' });
    expect(explicit.lines).toEqual([`connect to 127.0.0.1:${hole} timed out after 200 ms`]);
    const max = await run('tcp-check', [`127.0.0.1:${hole}`, '--max-ms', '150'], { HAM_TIMEOUT_MS: '10000' });
    expect(max.lines).toEqual([`connect to 127.0.0.1:${hole} timed out after 150 ms (max 150 ms)`]);
  });

  it('HAM_TIMEOUT_MS given, empty (a stream) or unset: a listening port is healthy', async () => {
    for (const t of ['2000', '', undefined]) {
      const r = await run('tcp-check', [`127.0.0.1:${port}`], { HAM_TIMEOUT_MS: t });
      expect(r.code, String(t)).toBe(0);
    }
  });

  it('connection refused: exit 7', async () => {
    const r = await run('tcp-check', [`127.0.0.1:${closedPort}`]);
    expect(r.code).toBe(7);
    expect(r.lines).toEqual([`connection refused by 127.0.0.1:${closedPort}`]);
  });

  it('an IPv6 literal in brackets is understood', async () => {
    // Nothing listens on ::1 at that port: refused (or unreachable without IPv6), never a usage error.
    const r = await run('tcp-check', [`[::1]:${closedPort}`]);
    expect([1, 7]).toContain(r.code);
    expect(r.line).toMatch(/\[::1\]/);
  });

  it('bad arguments: exit 2 with one line on stderr', async () => {
    for (const args of [[], ['127.0.0.1'], ['127.0.0.1:0'], ['127.0.0.1:70000'], ['http://127.0.0.1:80'], [`127.0.0.1:${port}`, 'x:1'], [`127.0.0.1:${port}`, '--max-ms', '-5']]) {
      const r = await run('tcp-check', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.lines).toHaveLength(1);
      expect(r.line).toMatch(/^tcp-check: .* \(see tcp-check --help\)$/);
    }
  });
});
