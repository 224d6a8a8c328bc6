// Readiness with real processes: a TCP server that listens late, an HTTP
// server that answers 503 before 200, a command probe; dependants and group
// members that start only once what they wait for is ready; a start that is
// not ready in time, failed and restarted per its policy; takeovers (the HAM
// SIGKILLed) while an entity is starting and after it is ready.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, events, ham, hamJson, lines, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { freePorts } from '../helpers/ports.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const at = (f: string): string => join(t.home, f);
const apply = async (config: object): Promise<void> => void (await applyConfig(t.home, config));

const freePort = async (): Promise<number> => (await freePorts(1))[0]!;

/** A TCP server that listens on PORT once FLAG exists (the test decides when), then writes FLAG.listening; each connection is a line in LOG. */
const TCP = `
const net = require('net'), fs = require('fs');
const [port, flag, log] = process.argv.slice(1);
const listen = () => net.createServer((c) => { fs.appendFileSync(log, 'conn\\n'); c.destroy(); })
  .listen(+port, '127.0.0.1', () => fs.writeFileSync(flag + '.listening', ''));
const wait = () => (fs.existsSync(flag) ? listen() : setTimeout(wait, 20));
wait();
`;
const tcpServer = (port: number, flag: string, log: string): string[] => ['node', '-e', TCP, String(port), flag, log];

/** An HTTP server on PORT: 503 to its first three requests, then 200; each status a line in LOG. */
const HTTP = `
const http = require('http'), fs = require('fs');
const [port, log] = process.argv.slice(1);
let n = 0;
http.createServer((req, res) => { const code = ++n <= 3 ? 503 : 200; fs.appendFileSync(log, code + '\\n'); res.writeHead(code); res.end(); })
  .listen(+port, '127.0.0.1');
`;

/** Writes "ok" to OUT if FILE exists when it starts, else "early"; then sleeps. */
const startsAfter = (file: string, out: string): string[] => [
  'sh',
  '-c',
  `if [ -e ${file} ]; then echo ok >> ${out}; else echo early >> ${out}; fi; exec sleep 1000`,
];

const restartOnDeath = { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } };

describe('readiness', () => {
  it('tcp: starting until the port listens, then running and ready; its dependant starts only then; ready fires once', async () => {
    const port = await freePort();
    const flag = at('srv');
    await apply({
      entities: {
        srv: {
          command: tcpServer(port, flag, at('conns')),
          readiness: { tcp: port, intervalMs: 50 },
          conditions: { up: { type: 'ready', actions: [{ kind: 'log', message: 'srv is ready' }] } },
        },
        dep: { command: startsAfter(`${flag}.listening`, at('dep')), requires: ['srv'] },
      },
    });
    const starting = await waitStatus(t.home, 'srv starting with a pid', (s) => entity(s, 'srv').state === 'starting' && entity(s, 'srv').pid !== null);
    expect(entity(starting, 'srv')).toMatchObject({ ready: false, readyText: null });
    expect(entity(starting, 'dep').pid).toBeNull();
    writeFileSync(flag, ''); // it listens now, well after its start: probes were refused until then
    const s = await waitStatus(t.home, 'both running', (x) => entity(x, 'srv').state === 'running' && entity(x, 'dep').state === 'running');
    expect(entity(s, 'srv')).toMatchObject({ ready: true, readyText: `tcp 127.0.0.1:${port} accepted a connection`, instance: 1, deaths: 0 });
    expect(entity(s, 'dep').ready).toBe(true); // no readiness: ready once it runs
    expect(lines(at('dep'))).toEqual(['ok']);
    const ready = (await events(t.home)).filter((e) => e.condition === 'ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({ entity: 'srv', fired: [{ owner: 'srv', condition: 'up' }], detail: `tcp 127.0.0.1:${port} accepted a connection` });
    const human = await ham(t.home, ['status', 'srv']);
    expect(human.stdout).toMatch(
      new RegExp(`readiness: +tcp 127\\.0\\.0\\.1:${port}, within 30000 ms, every 50 ms; ready: tcp 127\\.0\\.0\\.1:${port} accepted a connection`),
    );
  });

  it('http 503 then 200, a command probe; a group starts in order of readiness; probing stops once ready', async () => {
    const port = await freePort();
    await apply({
      groups: { g: { strategy: 'one-for-one' } },
      entities: {
        web: { command: ['node', '-e', HTTP, String(port), at('http')], group: 'g', readiness: { http: `http://127.0.0.1:${port}/health`, intervalMs: 50 } },
        // Ready once its flag exists: the test makes it after web is ready, so it is probed many times first.
        worker: { command: ['sleep', '1000'], group: 'g', readiness: { command: ['test', '-e', at('flag')], intervalMs: 50 } },
        last: { command: startsAfter(at('flag'), at('last')), group: 'g' },
      },
    });
    const s = await waitStatus(t.home, 'web ready', (x) => entity(x, 'web').ready);
    expect(entity(s, 'web').readyText).toBe(`HTTP 200 from http://127.0.0.1:${port}/health`);
    expect(lines(at('http'))).toEqual(['503', '503', '503', '200']);
    // worker is started only now (web is ready), and waits for its flag; last waits for worker.
    const w = await waitStatus(t.home, 'worker starting', (x) => entity(x, 'worker').state === 'starting' && entity(x, 'worker').pid !== null);
    expect(entity(w, 'last').pid).toBeNull();
    writeFileSync(at('flag'), '');
    const all = await waitStatus(t.home, 'worker ready, last running', (x) => entity(x, 'worker').ready && entity(x, 'last').state === 'running');
    expect(entity(all, 'worker').readyText).toBe(`test -e ${at('flag')} exited 0`);
    expect(lines(at('last'))).toEqual(['ok']);
    // web was probed no more once ready: its server saw nothing after the 200, while worker was probed meanwhile.
    expect(lines(at('http'))).toEqual(['503', '503', '503', '200']);
  });

  it('not ready within timeoutMs: a failed start, stopped (SIGKILL after its stop timeout), its death restarts it, then escalates', async () => {
    const port = await freePort();
    await apply({
      entities: {
        deaf: {
          // Never listens, and ignores SIGTERM: the stop timeout's SIGKILL ends it.
          command: ['sh', '-c', "trap '' TERM; while :; do sleep 0.05; done"],
          readiness: { tcp: port, timeoutMs: 1500, intervalMs: 100 },
          stop: { signal: 'SIGTERM', timeoutMs: 300 },
          conditions: restartOnDeath,
          restart: { intensity: { max: 1, withinMs: 600_000 } },
        },
      },
    });
    const s = await waitStatus(t.home, 'deaf failed', (x) => entity(x, 'deaf').state === 'failed', 40_000);
    expect(entity(s, 'deaf')).toMatchObject({ deaths: 2, restarts: 1, instance: 2, ready: false, lastExit: { code: null, signal: 'SIGKILL' } });
    // The last start's failure, as data (lastError now says it escalated).
    expect(entity(s, 'deaf').lastFailure).toMatchObject({ timedOut: true, durationMs: 1500, lastLine: `tcp 127.0.0.1:${port}: ECONNREFUSED` });
    const deaths = (await events(t.home)).filter((e) => e.entity === 'deaf' && e.condition === 'death');
    expect(deaths).toHaveLength(2);
    for (const d of deaths) expect(d.detail).toBe(`not ready within 1500 ms: tcp 127.0.0.1:${port}: ECONNREFUSED`);
    expect((await events(t.home)).some((e) => e.entity === 'deaf' && e.condition === 'escalate')).toBe(true);
  });

  it('apply: the same readiness again changes nothing; readiness taken away from one still starting makes it ready', async () => {
    const port = await freePort();
    const file = { entities: { srv: { command: ['sleep', '1000'], readiness: { tcp: port, intervalMs: 50, timeoutMs: 120_000 } } } };
    await apply(file);
    await waitStatus(t.home, 'srv starting', (s) => entity(s, 'srv').state === 'starting' && entity(s, 'srv').pid !== null);
    const again = await applyConfig<{ changes: { entity: string; change: string }[] }>(t.home, file);
    expect(again.changes).toEqual([expect.objectContaining({ entity: 'srv', change: 'unchanged' })]);
    await apply({ entities: { srv: { command: ['sleep', '1000'] } } });
    const s = await waitStatus(t.home, 'srv ready', (x) => entity(x, 'srv').ready);
    expect(entity(s, 'srv')).toMatchObject({ state: 'running', readyText: 'its readiness was removed', readiness: null, instance: 1 });
  });

  it('the HAM SIGKILLed while an entity is starting: the new HAM probes on (same instance, same start), it becomes ready', async () => {
    const [port, other] = await freePorts(2);
    const flag = at('srv');
    await apply({
      entities: {
        srv: { command: tcpServer(port!, flag, at('conns')), readiness: { tcp: port, intervalMs: 50, timeoutMs: 120_000 } },
        // Never ready: the new HAM keeps its deadline and fails its start (no restart action: it stays dead).
        never: { command: ['sleep', '1000'], readiness: { tcp: other, intervalMs: 50, timeoutMs: 3000 } },
      },
    });
    const before = await waitStatus(t.home, 'both starting', (s) =>
      // Exec'd (startedAt set), not only forked: the deadline counts from the start the new HAM must keep.
      ['srv', 'never'].every((n) => entity(s, n).state === 'starting' && entity(s, n).pid !== null && entity(s, n).startedAt !== null),
    );
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && s.ham.pid !== before.ham.pid);
    writeFileSync(flag, '');
    const s = await waitStatus(t.home, 'ready after the takeover', (x) => entity(x, 'srv').ready);
    const b = entity(before, 'srv');
    expect(entity(s, 'srv')).toMatchObject({ pid: b.pid, instance: 1, restarts: 0, deaths: 0, startedAt: b.startedAt, state: 'running' });
    const never = await waitStatus(t.home, 'never failed its start', (x) => entity(x, 'never').state === 'dead');
    expect(entity(never, 'never')).toMatchObject({
      instance: 1,
      deaths: 1,
      restarts: 0,
      startedAt: entity(before, 'never').startedAt,
      lastExit: { signal: 'SIGTERM' },
    });
    expect(entity(never, 'never').lastError).toMatch(/^not ready within 3000 ms: /);
  });

  it('its keeper SIGKILLed while it is starting: a new keeper adopts it, still starting, probed on until ready', async () => {
    const port = await freePort();
    const flag = at('srv');
    await apply({ entities: { srv: { command: tcpServer(port, flag, at('conns')), readiness: { tcp: port, intervalMs: 50, timeoutMs: 120_000 } } } });
    const before = entity(
      await waitStatus(
        t.home,
        'srv starting',
        (s) => entity(s, 'srv').state === 'starting' && entity(s, 'srv').pid !== null && entity(s, 'srv').keeperPid !== null,
      ),
      'srv',
    );
    process.kill(before.keeperPid!, 'SIGKILL');
    const adopted = await waitStatus(t.home, 'a new keeper', (s) => ![null, before.keeperPid].includes(entity(s, 'srv').keeperPid));
    expect(entity(adopted, 'srv')).toMatchObject({ state: 'starting', ready: false, pid: before.pid });
    writeFileSync(flag, '');
    const s = await waitStatus(t.home, 'ready', (x) => entity(x, 'srv').ready);
    expect(entity(s, 'srv')).toMatchObject({ state: 'running', pid: before.pid, instance: 1, deaths: 0, restarts: 0 });
  });

  it('the HAM SIGKILLed after an entity is ready: still ready, not probed again, no second ready event', async () => {
    const port = await freePort();
    const flag = at('srv');
    writeFileSync(flag, '');
    await apply({ entities: { srv: { command: tcpServer(port, flag, at('conns')), readiness: { tcp: port, intervalMs: 50 } } } });
    const before = await waitStatus(t.home, 'srv ready', (s) => entity(s, 'srv').ready);
    // The probe's handshake completes in the kernel before the server logs the connection: wait for its line.
    await waitFor('the ready probe logged by srv', () => existsSync(at('conns')) && lines(at('conns')).length > 0);
    const conns = lines(at('conns')).length;
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && s.ham.pid !== before.ham.pid);
    // Something the new HAM probes several times: by its end, srv would have been probed too if it were.
    await apply({ entities: { later: { command: ['sleep', '1000'], readiness: { command: ['test', '-e', at('later')], intervalMs: 50 } } } });
    await waitStatus(t.home, 'later probed', (s) => entity(s, 'later').state === 'starting' && entity(s, 'later').pid !== null);
    writeFileSync(at('later'), '');
    const s = await waitStatus(t.home, 'later ready', (x) => entity(x, 'later').ready);
    expect(entity(s, 'srv')).toMatchObject({ ready: true, state: 'running', pid: entity(before, 'srv').pid, instance: 1 });
    expect(lines(at('conns')).length).toBe(conns);
    expect((await events(t.home)).filter((e) => e.entity === 'srv' && e.condition === 'ready')).toHaveLength(1);
    expect(existsSync(`${flag}.listening`)).toBe(true);
  });
});
