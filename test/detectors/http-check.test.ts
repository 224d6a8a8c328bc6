// http-check against a real HTTP server on 127.0.0.1, a closed port, and a
// server that answers garbage.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './helpers.js';

let server: Server;
let garbage: NetServer;
let keepAlive: NetServer;
let keepAliveUrl: string;
let base: string;
let closedPort: number;
let garbageUrl: string;
const seen: { method?: string; version?: string; url?: string; headers?: IncomingHttpHeaders } = {};
const timers = new Set<NodeJS.Timeout>();
const sockets = new Set<Socket>();

function listen(s: Server | NetServer): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

function close(s: Server | NetServer): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    Object.assign(seen, { method: req.method, version: req.httpVersion, url: req.url, headers: req.headers });
    const path = (req.url ?? '').replace(/\?.*/, '');
    if (path === '/ok') res.end('status: all green\n');
    else if (path === '/fail') {
      res.statusCode = 503;
      res.end('down for maintenance\n');
    } else if (path === '/slow') {
      // After 2000 ms, or ?ms=N.
      const ms = Number(/[?&]ms=(\d+)/.exec(req.url ?? '')?.[1] ?? 2000);
      const t = setTimeout(() => {
        timers.delete(t);
        res.end('late but fine\n');
      }, ms);
      timers.add(t);
    } else if (path === '/nobody') {
      res.statusCode = 204;
      res.end();
    } else {
      res.statusCode = 404;
      res.end('no\n');
    }
  });
  base = `http://127.0.0.1:${await listen(server)}`;
  garbage = createNetServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.resume(); // read, so the client's FIN closes it
    sock.end('SSH-2.0-OpenSSH_9.2\r\n');
  });
  garbageUrl = `http://127.0.0.1:${await listen(garbage)}/`;
  // Answers, then keeps the connection open (ignoring HTTP/1.0's close).
  keepAlive = createNetServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 12\r\n\r\nstill here\r\n'));
  });
  keepAliveUrl = `http://127.0.0.1:${await listen(keepAlive)}/`;
  // A port nothing listens on: bound, then released.
  const probe = createNetServer();
  closedPort = await listen(probe);
  await close(probe);
});

afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  server.closeAllConnections();
  for (const sock of sockets) sock.destroy();
  await close(server);
  await close(garbage);
  await close(keepAlive);
});

describe('http-check', () => {
  it('healthy on the expected status: exit 0, one line with status, URL and latency', async () => {
    const r = await run('http-check', [`${base}/ok`]);
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(1);
    expect(r.line).toMatch(new RegExp(`^HTTP 200 from ${base}/ok in \\d+(\\.\\d)? ms$`));
  });

  it('sends an HTTP/1.0 GET with Host, and headers given with --header', async () => {
    const r = await run('http-check', [`${base}/ok?probe=1`, '--header', 'X-Probe: yes', '--header=Authorization: Bearer t0k']);
    expect(r.code).toBe(0);
    expect(seen.method).toBe('GET');
    expect(seen.version).toBe('1.0');
    expect(seen.url).toBe('/ok?probe=1');
    expect(seen.headers?.host).toBe(base.slice('http://'.length));
    expect(seen.headers?.['x-probe']).toBe('yes');
    expect(seen.headers?.authorization).toBe('Bearer t0k');
  });

  it('wrong status: exit 1, saying what came and what was expected', async () => {
    const r = await run('http-check', [`${base}/fail`]);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.line).toMatch(new RegExp(`^HTTP 503 from ${base}/fail in [\\d.]+ ms \\(expected 200\\)$`));
  });

  it('--status takes a code, a list and a class', async () => {
    expect((await run('http-check', [`${base}/fail`, '--status', '503'])).code).toBe(0);
    expect((await run('http-check', [`${base}/fail`, '--status', '5xx'])).code).toBe(0);
    expect((await run('http-check', [`${base}/nobody`, '--status', '200,204'])).code).toBe(0);
    const r = await run('http-check', [`${base}/missing`, '--status', '2xx,3xx']);
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^HTTP 404 from .* \(expected 2xx,3xx\)$/);
  });

  it('--match: the body must match the regex', async () => {
    const ok = await run('http-check', [`${base}/ok`, '--match', 'all (green|good)']);
    expect(ok.code).toBe(0);
    const bad = await run('http-check', [`${base}/ok`, '--match', 'red']);
    expect(bad.code).toBe(1);
    expect(bad.line).toMatch(new RegExp(`^HTTP 200 from ${base}/ok in [\\d.]+ ms, body does not match /red/$`));
    // The status line and headers are not the body.
    expect((await run('http-check', [`${base}/ok`, '--match', 'Content-Length'])).code).toBe(1);
  });

  it('--max-ms: a slow response fails (1) at the limit, not when it finally comes', async () => {
    const r = await run('http-check', [`${base}/slow`, '--max-ms', '300']);
    expect(r.code).toBe(1);
    expect(r.line).toBe(`no response from ${base}/slow within 300 ms (max 300 ms)`);
    expect(r.ms).toBeLessThan(1900); // the server answers at 2000 ms
    // A generous limit passes the same URL.
    const fast = await run('http-check', [`${base}/ok`, '--max-ms', '5000']);
    expect(fast.code).toBe(0);
  });

  it('--timeout-ms bounds the wait without a latency limit', async () => {
    const r = await run('http-check', [`${base}/slow`, '--timeout-ms', '200']);
    expect(r.code).toBe(1);
    expect(r.line).toBe(`no response from ${base}/slow within 200 ms`);
  });

  it('without --timeout-ms: gives up 100 ms before the host would kill it (HAM_TIMEOUT_MS)', async () => {
    const r = await run('http-check', [`${base}/slow`], { HAM_TIMEOUT_MS: '400' });
    expect(r.code).toBe(1);
    expect(r.line).toBe(`no response from ${base}/slow within 300 ms`);
    expect(r.ms).toBeLessThan(1900);
    // Never under 100 ms.
    for (const t of ['150', '50', '0']) {
      const short = await run('http-check', [`${base}/slow`], { HAM_TIMEOUT_MS: t });
      expect(short.code, t).toBe(1);
      expect(short.line).toBe(`no response from ${base}/slow within 100 ms`);
    }
    // Well within it: healthy.
    expect((await run('http-check', [`${base}/slow?ms=300`], { HAM_TIMEOUT_MS: '2000' })).code).toBe(0);
  });

  it('--timeout-ms and a smaller --max-ms win over HAM_TIMEOUT_MS; without it (or empty, as for a stream) 5000', async () => {
    const r = await run('http-check', [`${base}/slow`, '--timeout-ms', '200'], { HAM_TIMEOUT_MS: '10000' });
    expect(r.line).toBe(`no response from ${base}/slow within 200 ms`);
    expect((await run('http-check', [`${base}/slow?ms=300`, '--timeout-ms', '4000'], { HAM_TIMEOUT_MS: '200' })).code).toBe(0);
    const m = await run('http-check', [`${base}/slow`, '--max-ms', '150'], { HAM_TIMEOUT_MS: '3000' });
    expect(m.line).toBe(`no response from ${base}/slow within 150 ms (max 150 ms)`);
    for (const t of [undefined, '', 'soon']) {
      const d = await run('http-check', [`${base}/slow?ms=300`], { HAM_TIMEOUT_MS: t });
      expect(d.code, String(t)).toBe(0);
      expect(d.line).toMatch(/^HTTP 200 from /);
    }
  });

  it('connection refused: exit 7 (not running)', async () => {
    const url = `http://127.0.0.1:${closedPort}/health`;
    const r = await run('http-check', [url]);
    expect(r.code).toBe(7);
    expect(r.lines).toEqual([`connection refused by 127.0.0.1:${closedPort} (${url})`]);
  });

  it('a name resolving to several addresses: refused on one, served on the next', async () => {
    // localhost is ::1 and 127.0.0.1 here; the server listens on 127.0.0.1 only.
    const url = `${base.replace('127.0.0.1', 'localhost')}/ok`;
    const r = await run('http-check', [url]);
    expect(r.code).toBe(0);
    expect(r.line).toMatch(/^HTTP 200 from http:\/\/localhost:\d+\/ok in/);
  });

  it('not HTTP at all: exit 1, malformed response', async () => {
    const r = await run('http-check', [garbageUrl]);
    expect(r.code).toBe(1);
    expect(r.line).toBe(`malformed response from ${garbageUrl}: 'SSH-2.0-OpenSSH_9.2'`);
  });

  it('a server that keeps the connection open: done at Content-Length, not at the timeout', async () => {
    const r = await run('http-check', [keepAliveUrl, '--match', 'still here', '--timeout-ms', '4000']);
    expect(r.code).toBe(0);
    expect(r.line).toMatch(/^HTTP 200 from/);
    expect(r.ms).toBeLessThan(3500);
  });

  it('https: exit 5 (not supported)', async () => {
    const r = await run('http-check', ['https://127.0.0.1/']);
    expect(r.code).toBe(5);
    expect(r.line).toMatch(/https is not supported/);
  });

  it('bad arguments: exit 2 with one line on stderr', async () => {
    for (const args of [
      [],
      ['ftp://127.0.0.1/'],
      ['127.0.0.1:80'],
      ['http://user:pw@127.0.0.1/'],
      ['http://127.0.0.1:99999/'],
      [`${base}/ok`, '--status', '99'],
      [`${base}/ok`, '--max-ms', 'soon'],
      [`${base}/ok`, '--match', '(unclosed'],
      [`${base}/ok`, '--header', 'no colon'],
      [`${base}/ok`, `${base}/fail`],
      [`${base}/ok`, '--status'],
    ]) {
      const r = await run('http-check', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.lines, args.join(' ')).toHaveLength(1);
      expect(r.line).toMatch(/^http-check: .* \(see http-check --help\)$/);
    }
  });
});
