// `ham apply -f FILE --wait` with real entities: a TCP server that listens
// late (ready), one without readiness (ready once it runs), one that never
// listens (a failed start, its reason in the one error shape and in --json),
// and the HAM SIGKILLed while the wait is on (it resumes on the new HAM).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pairOf } from '../helpers/entities.js';
import { CALM, ham, hamJson, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';
import { freePorts } from '../helpers/ports.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const at = (f: string): string => join(t.home, f);

/** A TCP server that listens on PORT once FLAG exists (the test decides when). */
const TCP = `
const net = require('net'), fs = require('fs');
const [port, flag] = process.argv.slice(1);
const wait = () => (fs.existsSync(flag) ? net.createServer((c) => c.destroy()).listen(+port, '127.0.0.1') : setTimeout(wait, 20));
wait();
`;
const tcpServer = (port: number, flag: string): string[] => ['node', '-e', TCP, String(port), flag];

function writeConfig(config: object): string {
  const file = at('ham.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

interface Waited {
  error?: { code: string; message: string; entity?: string; issues?: { path: string; expected: string; got?: string }[] };
  changes: { entity: string; change: string }[];
  wait: { entity: string; result: string; pid: number | null; reason?: string; readyText?: string | null }[];
}

describe('ham apply --wait', () => {
  it('returns once each entity it started is ready (readiness answered, or running without one)', async () => {
    const [port] = await freePorts(1);
    writeFileSync(at('up'), ''); // listens as soon as it starts
    const file = writeConfig({
      entities: {
        db: { command: tcpServer(port!, at('up')), readiness: { tcp: port, timeoutMs: 30_000 } },
        worker: { command: ['sleep', '1000'] },
        later: { placeholder: true },
      },
    });
    const r = await ham(t.home, ['apply', '-f', file, '--wait', '--timeout-ms', '60000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`db: ready \\(pid \\d+, tcp 127\\.0\\.0\\.1:${port} accepted a connection\\)`));
    expect(r.stdout).toMatch(/worker: ready \(pid \d+\)/);
    expect(r.stdout).not.toMatch(/later: ready/); // a placeholder starts nothing
    const s = await status(t.home);
    for (const name of ['db', 'worker']) expect(s.entities.find((e) => e.name === name)).toMatchObject({ state: 'running', ready: true });
    // Applied again: nothing started, nothing to wait for.
    const again = await hamJson<Waited>(t.home, ['apply', '-f', file, '--wait']);
    expect(again.wait).toEqual([]);
  });

  it('fails with the one error shape naming the entity that never became ready and its failed start; --json gives each result', async () => {
    const [good, never] = await freePorts(2);
    writeFileSync(at('up'), '');
    const file = writeConfig({
      entities: {
        db: { command: tcpServer(good!, at('up')), readiness: { tcp: good, timeoutMs: 30_000 } },
        broken: { command: ['sleep', '1000'], readiness: { tcp: never, timeoutMs: 1000, intervalMs: 100 } },
      },
    });
    const r = await ham(t.home, ['--json', 'apply', '-f', file, '--wait', '--timeout-ms', '60000']);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Waited;
    expect(out.error).toMatchObject({ code: 'not-ready', entity: 'broken' });
    expect(out.error!.message).toMatch(
      new RegExp(`^1 of 2 entities not ready: broken: its start failed: not ready within 1000 ms: tcp 127\\.0\\.0\\.1:${never}: ECONNREFUSED`),
    );
    expect(out.error!.issues).toEqual([
      { path: 'entities.broken', expected: 'ready within 60000 ms', got: expect.stringMatching(/^its start failed: not ready within 1000 ms/) },
    ]);
    expect(out.changes.map((c) => c.change)).toEqual(['created', 'created']);
    expect(out.wait.find((w) => w.entity === 'db')).toMatchObject({ result: 'ready' });
    expect(out.wait.find((w) => w.entity === 'broken')).toMatchObject({ result: 'failed', reason: expect.stringMatching(/ECONNREFUSED/) });
    // In text: the same error on stderr, each result on stdout.
    const [p2] = await freePorts(1);
    const text = await ham(t.home, [
      'apply',
      '-f',
      writeConfig({ entities: { nope: { command: ['sleep', '1000'], readiness: { tcp: p2, timeoutMs: 800 } } } }),
      '--wait',
    ]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/nope: failed \(its start failed: not ready within 800 ms/);
    expect(text.stderr).toMatch(/^ham: not-ready: 1 of 1 entity not ready: nope: its start failed: not ready within 800 ms/);
  });

  it('an entity still starting at --timeout-ms is named as timed out, with where it is', async () => {
    const [port] = await freePorts(1);
    const file = writeConfig({ entities: { slow: { command: tcpServer(port!, at('never')), readiness: { tcp: port, timeoutMs: 600_000 } } } });
    const run = await ham(t.home, ['--json', 'apply', '-f', file, '--wait', '--timeout-ms', '1500']);
    expect(run.code).toBe(1);
    const r = JSON.parse(run.stdout) as Waited;
    expect(r.error).toMatchObject({ code: 'not-ready', entity: 'slow', message: '1 of 1 entity not ready: slow: not ready within 1500 ms: starting' });
    expect(r.wait).toEqual([expect.objectContaining({ entity: 'slow', result: 'timed-out' })]);
  });

  it('--wait with --dry-run is refused (nothing would start)', async () => {
    const r = await ham(t.home, ['apply', '-f', writeConfig({ entities: {} }), '--wait', '--dry-run']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad-request: --wait: expected an apply that starts something, got --dry-run/);
  });

  it('the HAM SIGKILLed during the wait: it resumes on the new HAM and returns once the entity is ready', async () => {
    const [port] = await freePorts(1);
    const file = writeConfig({ entities: { db: { command: tcpServer(port!, at('up')), readiness: { tcp: port, timeoutMs: 120_000 } } } });
    const waiting = ham(t.home, ['--json', 'apply', '-f', file, '--wait', '--timeout-ms', '120000']);
    const before = await waitStatus(t.home, 'db starting', (s) => s.entities.some((e) => e.name === 'db' && e.state === 'starting' && e.startedAt !== null));
    process.kill(before.ham.pid!, 'SIGKILL');
    // Ready while no HAM is serving (or just after): the new HAM's probe sees it, and so does the wait.
    writeFileSync(at('up'), '');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s), 60_000);
    const r = await waiting;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Waited).wait).toEqual([expect.objectContaining({ entity: 'db', result: 'ready' })]);
  });

  it('the HAM SIGKILLed during the wait: a start that fails meanwhile (judged by the new HAM) is reported', async () => {
    const [port] = await freePorts(1);
    const file = writeConfig({ entities: { broken: { command: ['sleep', '1000'], readiness: { tcp: port, timeoutMs: 2500, intervalMs: 100 } } } });
    const waiting = ham(t.home, ['--json', 'apply', '-f', file, '--wait', '--timeout-ms', '120000']);
    const before = await waitStatus(t.home, 'broken starting', (s) =>
      s.entities.some((e) => e.name === 'broken' && e.state === 'starting' && e.startedAt !== null),
    );
    process.kill(before.ham.pid!, 'SIGKILL');
    const r = await waiting;
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as Waited;
    expect(out.error).toMatchObject({ code: 'not-ready', entity: 'broken' });
    expect(out.wait).toEqual([
      expect.objectContaining({
        entity: 'broken',
        result: 'failed',
        reason: expect.stringMatching(new RegExp(`^its start failed: not ready within 2500 ms: tcp 127\\.0\\.0\\.1:${port}`)),
      }),
    ]);
    // A takeover came between: the new HAM judged the start.
    expect((await status(t.home)).ham.epoch).toBeGreaterThan(before.ham.epoch);
  });
});
