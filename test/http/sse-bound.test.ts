// An event stream whose reader does not read is cut off at its bound, and
// says so: the stream's own code (http/sse.ts) on a real socket, fed by an
// in-test event source with big events (a HAM would need millions to fill it).
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventStream, SSE_BACKLOG_BYTES } from '../../src/http/sse.js';
import type { ViewSource } from '../../src/protocol/view-source.js';
import type { EventView } from '../../src/protocol/views.js';
import { waitFor } from '../helpers/ham.js';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

function source() {
  const log: EventView[] = [];
  const listeners = new Set<(e: EventView[]) => void>();
  const src: ViewSource = {
    status: () => Promise.reject(new Error('not used')),
    events: (since, limit) => {
      const events = log.filter((e) => e.seq > since).slice(0, limit);
      return { events, lastSeq: log.length, next: null };
    },
    onEvents: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    detectors: () => ({ dir: '', refused: null, detectors: [] }),
    figures: () => {
      throw new Error('not used');
    },
  };
  const push = (detail: string): void => {
    const e = { seq: log.length + 1, time: new Date().toISOString(), entity: 'web', condition: 'raise', fired: [], detail } as unknown as EventView;
    log.push(e);
    for (const fn of listeners) fn([e]);
  };
  return { src, push, listeners };
}

describe('/api/events: a reader that does not read', () => {
  it('is cut off once SSE_BACKLOG_BYTES are unsent, with a too-slow error event', async () => {
    const { src, push, listeners } = source();
    server = createServer((req, res) => void eventStream(src, req, res, new URL(req.url!, 'http://x'), () => res.end()));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const stuck = connect(port, '127.0.0.1');
    stuck.pause(); // never reads until told
    stuck.write('GET /?since=0 HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('following', () => listeners.size === 1);
    const big = 'x'.repeat(64 * 1024);
    // Past the bound plus whatever the kernel's socket buffers hold (they grow to a few MiB on loopback).
    for (let i = 0; listeners.size > 0 && i < 4000; i++) {
      push(big);
      await new Promise((r) => setImmediate(r));
    }
    expect(listeners.size).toBe(0); // it stopped following that reader
    let text = '';
    stuck.setEncoding('utf8');
    stuck.on('data', (c: string) => (text += c));
    stuck.resume();
    await waitFor('the stream ended', () => stuck.readableEnded || stuck.destroyed || /event: error/.test(text), 20_000);
    await waitFor('the error event read', () => /event: error\ndata: .*"too-slow"/.test(text) || stuck.destroyed, 20_000);
    expect(text).toMatch(
      new RegExp(`event: error\\ndata: \\{"error":\\{"code":"too-slow","message":"event stream fell \\d+ bytes behind \\(at most ${SSE_BACKLOG_BYTES}\\)`),
    );
    stuck.destroy();
  });
});
