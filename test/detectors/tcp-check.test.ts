// tcp-check against a real listening TCP server and a closed port.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

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
