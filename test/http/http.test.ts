// The HAM's HTTP listener with a real pair: its pages, its refusals, and an
// event stream that carries on, without loss or repeats, across a real
// takeover (the HAM SIGKILLed, the Guardian binding the same port).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { daemons, events, ham, hamJson, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { freePort, get, listening, SseReader } from '../helpers/http.js';
import { parseExposition, valueOf } from '../helpers/prom-parse.js';

let t: TestHome;
let readers: SseReader[] = [];
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  for (const r of readers) r.close();
  readers = [];
  t.cleanup(ctx);
});

async function startWithWeb(extra: string[] = []): Promise<number> {
  const port = await freePort();
  await hamJson(t.home, ['start', '--hang-ms', '3000', '--http', `127.0.0.1:${port}`, ...extra]);
  await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(`${t.home}/web`)]);
  await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running');
  await listening(port);
  return port;
}

const metrics = async (port: number, headers?: Record<string, string>) => {
  const a = await get(port, '/metrics', headers);
  expect(a.status).toBe(200);
  expect(a.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(a.body);
};

describe('ham start --http', () => {
  it('serves /metrics (valid exposition format) that follows the entity, and /api/status as status --json has it', async () => {
    const port = await startWithWeb();
    const m = await metrics(port);
    expect(valueOf(m, 'ham_entity_up', { entity: 'web' })).toBe(1);
    expect(valueOf(m, 'ham_entity_ready', { entity: 'web' })).toBe(1);
    expect(valueOf(m, 'ham_epoch')).toBe(1);
    const pid = entity(await status(t.home), 'web').pid!;
    process.kill(pid, 'SIGKILL');
    await waitStatus(t.home, 'web restarted', (s) => entity(s, 'web').restarts === 1 && entity(s, 'web').state === 'running');
    // A page may reuse a status up to a second old (many clients cost one status a second): polled.
    const after = await waitFor('the restart on the page', async () => {
      const m = await metrics(port);
      return valueOf(m, 'ham_entity_restarts_total', { entity: 'web' }) === 1 ? m : undefined;
    });
    expect(valueOf(after, 'ham_entity_deaths_total', { entity: 'web' })).toBe(1);
    expect(valueOf(after, 'ham_condition_fired_total', { entity: 'web', condition: 'restart', type: 'death' })).toBe(1);
    expect(valueOf(after, 'ham_action_duration_seconds_count', { kind: 'restart' })).toBe(1);
    await waitFor('the death event counted', async () => valueOf(await metrics(port), 'ham_events_total', { entity: 'web', condition: 'death' }) === 1);
    // Prometheus' own checker (Debian's prometheus package, installed by .ci/run): the page as served, lint and all.
    const page = (await get(port, '/metrics')).body;
    const check = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8' });
    expect(check.error, 'promtool missing: .ci/run installs Debian prometheus').toBeUndefined();
    expect(`${check.stdout}${check.stderr}`).toBe('');
    expect(check.status).toBe(0);

    const a = await get(port, '/api/status');
    expect(a.status).toBe(200);
    const view = JSON.parse(a.body) as Awaited<ReturnType<typeof status>>;
    const cli = await hamJson<typeof view>(t.home, ['status']);
    expect(view.ham).toEqual(cli.ham);
    expect(view.entities.map((e) => [e.name, e.pid, e.restarts])).toEqual(cli.entities.map((e) => [e.name, e.pid, e.restarts]));
  });

  it('answers unknown paths 404 and writes 405, with a JSON error in the project shape', async () => {
    const port = await startWithWeb();
    const a = await get(port, '/no/such');
    expect(a.status).toBe(404);
    expect(JSON.parse(a.body)).toEqual({ error: { code: 'not-found', message: expect.stringContaining('/no/such') } });
    const b = await get(port, '/api/status', {}, 'POST');
    expect(b.status).toBe(405);
    expect(JSON.parse(b.body).error).toMatchObject({ code: 'bad-request', message: expect.stringContaining('read-only') });
    const c = await get(port, '/api/events?since=abc');
    expect(c.status).toBe(400);
    expect(JSON.parse(c.body).error.code).toBe('bad-request');
  });

  it('with --token: 401 without it or with another, 200 with it; the view page itself holds no data and is served', async () => {
    const port = await startWithWeb(['--token', 's3cret-token']);
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer wrong' },
      { Authorization: 'Bearer s3cret-token-and-more' },
      { Authorization: 's3cret-token' },
    ];
    for (const headers of wrong) {
      const a = await get(port, '/metrics', headers);
      expect(a.status, JSON.stringify(headers)).toBe(401);
      expect(JSON.parse(a.body).error.code).toBe('unauthorized');
    }
    expect((await get(port, '/api/status', { Authorization: 'Bearer s3cret-token' })).status).toBe(200);
    expect(valueOf(await metrics(port, { Authorization: 'Bearer s3cret-token' }), 'ham_entity_up', { entity: 'web' })).toBe(1);
    for (const pid of daemons(t.home)) expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('s3cret'); // argv is world-readable
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
  });

  it('refuses a non-loopback address without --token at start, and starts nothing', async () => {
    const r = await ham(t.home, ['start', '--http', '0.0.0.0:18080']);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/--http 0\.0\.0\.0:18080: 0\.0\.0\.0 is not a loopback address.*--token/);
    expect(daemons(t.home)).toEqual([]);
    const bad = await ham(t.home, ['start', '--http', 'localhost:99999']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/expected ADDR:PORT/);
  });

  it('serves an entity output (/api/logs/NAME, and with follow its new lines); unknown entities 404', async () => {
    const port = await freePort();
    await hamJson(t.home, ['start', '--hang-ms', '3000', '--http', `127.0.0.1:${port}`]);
    await listening(port);
    const talker = ['perl', '-e', '$| = 1; $SIG{USR1} = sub { print "later\\n" }; print "one\\ntwo\\n"; sleep 1 while 1', `${t.home}/talk`];
    await hamJson(t.home, ['attach', 'talk', '--', ...talker]);
    const past = await waitFor('two lines kept', async () => {
      const a = await get(port, '/api/logs/talk?lines=10');
      return a.status === 200 && /two\n$/.test(a.body) ? a : undefined;
    });
    expect(
      past.body
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ').slice(1).join(' ')),
    ).toEqual(['out 1 one', 'out 1 two']);
    expect((await get(port, '/api/logs/talk?lines=1')).body).toMatch(/^\S+ out 1 two\n$/);
    const unknown = await get(port, '/api/logs/nobody');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error).toMatchObject({ code: 'unknown-entity', entity: 'nobody' });
    expect((await get(port, '/api/logs/talk?lines=5000')).status).toBe(400);

    // Following: the past line, then one written after the request.
    const { request } = await import('node:http');
    let text = '';
    const req = request({ host: '127.0.0.1', port, path: '/api/logs/talk?lines=1&follow' }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
    });
    req.end();
    await waitFor('the past line', () => /two\n/.test(text));
    const pid = entity(await status(t.home), 'talk').pid!;
    process.kill(pid, 'SIGUSR1');
    await waitFor('the new line followed', () => /out 1 later\n/.test(text));
    req.destroy();
  });

  it('is kept for later starts, and --http "" turns it off', async () => {
    const port = await startWithWeb();
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start']);
    await listening(port);
    expect(valueOf(await metrics(port), 'ham_entity_up', { entity: 'web' })).toBe(1);
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', '--http', '']);
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('is off by default: nothing listens', async () => {
    const port = await freePort();
    await hamJson(t.home, ['start']);
    await expect(get(port, '/metrics')).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('/api/events across a takeover', () => {
  it('the Guardian binds the port as the new HAM; a reader resuming by Last-Event-ID gets every event once, in order', async () => {
    const port = await startWithWeb();
    const before = await status(t.home);
    const r = new SseReader(port, '/api/events?since=0');
    readers.push(r);
    await waitFor('the backlog read', () => r.events.length > 0 && r.events.at(-1)!.id === before.lastSeq);
    process.kill(entity(before, 'web').pid!, 'SIGKILL');
    const died = await waitStatus(t.home, 'web restarted', (s) => entity(s, 'web').restarts === 1 && entity(s, 'web').state === 'running');
    await waitFor('the death streamed', () => r.events.some((e) => e.data.entity === 'web' && e.data.condition === 'death'));

    process.kill(before.ham.pid!, 'SIGKILL');
    const after = await waitStatus(t.home, 'the Guardian serving as HAM', (s) => s.ham.pid === before.guardian.pid && s.guardian.pid !== null);
    // Events while the reader reconnects and after: a death and restart handled by the new HAM.
    process.kill(entity(died, 'web').pid!, 'SIGKILL');
    const again = await waitStatus(t.home, 'web restarted by the new HAM', (s) => entity(s, 'web').restarts === 2 && entity(s, 'web').state === 'running');
    await waitFor('the reader caught up through the new HAM', () => r.events.at(-1)?.id === again.lastSeq && r.connections >= 2, 30_000);

    const log = await events(t.home, 0);
    expect(r.events.map((e) => e.id)).toEqual(log.map((e) => e.seq)); // none lost, none twice, in order
    expect(r.events.map((e) => e.data.seq)).toEqual(log.map((e) => e.seq));
    expect(r.resumedFrom.every((id) => id > 0)).toBe(true); // each reconnection resumed where it was
    expect(after.ham.epoch).toBe(before.ham.epoch + 1);
    expect(valueOf(await metrics(port), 'ham_takeovers_total')).toBe(1);
  });

  it('a hung HAM (SIGSTOP) holds the port until it is killed: the new HAM binds it then', async () => {
    const port = await freePort();
    await hamJson(t.home, ['start', '--hang-ms', '1000', '--http', `127.0.0.1:${port}`]);
    await listening(port);
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGSTOP');
    await waitStatus(t.home, 'the Guardian serving as HAM', (s) => s.ham.pid === before.guardian.pid);
    const m = await waitFor('the new HAM answering on the port', async () => {
      try {
        const a = await get(port, '/metrics');
        return a.status === 200 ? parseExposition(a.body) : undefined;
      } catch {
        return undefined; // refused, or accepted by the stopped HAM's socket and dropped when it is killed
      }
    });
    expect(valueOf(m, 'ham_epoch')).toBe(before.ham.epoch + 1);
    expect(valueOf(m, 'ham_takeovers_total')).toBe(1);
  });

  it('a reader without since gets only what comes after it connected', async () => {
    const port = await startWithWeb();
    const before = await status(t.home);
    const r = new SseReader(port, '/api/events');
    readers.push(r);
    await waitFor('connected', () => r.connections === 1);
    process.kill(entity(before, 'web').pid!, 'SIGKILL');
    await waitFor('the death streamed', () => r.events.some((e) => e.data.condition === 'death'));
    expect(r.events.every((e) => e.id > before.lastSeq)).toBe(true);
  });
});
