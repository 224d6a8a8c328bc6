// Answers larger than a frame come in pages (invisible to users), and every CLI
// path tells "no HAM is running" from "permission denied", "timed out" and an
// error the HAM answered with.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { connect } from '../../src/index.js';
import { MAX_FRAME } from '../../src/protocol/frame.js';
import { CLI_MAIN } from '../../src/paths.js';
import { CALM, ham, hamJson, request, status, tempHome, waitFor, type Run, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

/** `ham ARGS` run as `nobody`, who may not open a root-owned home. */
function hamAsNobody(home: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI_MAIN, '--home', home, ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function placeholders(home: string, n: number): Promise<void> {
  const entities: Record<string, { placeholder: true }> = {};
  for (let i = 0; i < n; i++) entities[`p${String(i).padStart(5, '0')}`] = { placeholder: true };
  const file = join(home, 'many.json');
  writeFileSync(file, JSON.stringify({ entities }));
  const r = await ham(home, ['--json', 'apply', '-f', file]);
  expect(r.code, r.stderr + r.stdout.slice(0, 500)).toBe(0);
}

describe('large answers', () => {
  it('status with 5,000 entities prints one JSON object with all of them; ham stop stops that pair', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await placeholders(t.home, 5000);
    const r = await ham(t.home, ['--json', 'status']);
    expect(r.code, r.stderr + r.stdout.slice(0, 300)).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(MAX_FRAME); // more than one frame could carry
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const s = JSON.parse(lines[0]!) as {
      ham: { pid: number; epoch: number };
      guardian: { pid: number };
      entities: { name: string; kind: string }[];
      store: { usedBytes: number; limitBytes: number };
    };
    expect(s.entities).toHaveLength(5000);
    expect(new Set(s.entities.map((e) => e.name)).size).toBe(5000);
    expect(s.entities.every((e) => e.kind === 'placeholder')).toBe(true);
    expect(s.store.usedBytes).toBeGreaterThan(0);
    expect(s.store.usedBytes).toBeLessThan(s.store.limitBytes);
    // The client library assembles the same object; the HAM keeps answering.
    expect((await status(t.home)).entities).toHaveLength(5000);
    expect(await request<{ pid: number }>(t.home, 'ping', {})).toMatchObject({ pid: s.ham.pid });
    expect((await hamJson<{ seq: number }>(t.home, ['raise', 'p00042', '--type', 'still-here'])).seq).toBeGreaterThan(0);

    const stop = await ham(t.home, ['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/^stopped on /);
    await waitFor('the pair gone', () => !isAliveProc(s.ham.pid) && !isAliveProc(s.guardian.pid));
    const after = await ham(t.home, ['stop']);
    expect(after.stdout).toMatch(/not running/);
  });

  it('events --since 0 --limit 10000 prints more than a frame of events, every one in order', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'web']);
    const c = await Connection.open(join(t.home, 'ham.sock'));
    try {
      const long = 'x'.repeat(120);
      const raises = [];
      for (let i = 0; i < 4000; i++) raises.push(c.request('raise', { entity: 'web', type: `${long}-${i}`, class: long }, 60_000));
      await Promise.all(raises);
    } finally {
      c.close();
    }
    const r = await ham(t.home, ['--json', 'events', '--since', '0', '--limit', '10000']);
    expect(r.code, r.stderr + r.stdout.slice(0, 300)).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(MAX_FRAME);
    const seqs = r.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    const { lastSeq } = await request<{ lastSeq: number }>(t.home, 'stats', {});
    expect(lastSeq).toBeGreaterThanOrEqual(4000);
    expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    // A subscription from 0 gets the same backlog (sent in chunks), then live events.
    const client = await connect({ home: t.home });
    try {
      const got: number[] = [];
      await client.subscribe({}, (e) => void got.push(e.seq), 0);
      await hamJson(t.home, ['raise', 'web', '--type', 'live']);
      await waitFor('the backlog and the live event', () => got.length === lastSeq + 1);
      expect(got).toEqual(Array.from({ length: lastSeq + 1 }, (_, i) => i + 1));
      expect((await client.events({ since: 0, limit: 10_000 })).map((e) => e.seq)).toEqual(got);
    } finally {
      client.close();
    }
    const some = await ham(t.home, ['--json', 'events', '--since', '10', '--limit', '5']);
    expect(
      some.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([11, 12, 13, 14, 15]);
  });
});

function isAliveProc(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('why the CLI cannot talk to a HAM', () => {
  it('no HAM: status says "no HAM is running" (non-zero), stop says not running (zero)', async () => {
    const s = await ham(t.home, ['status']);
    expect(s.code).not.toBe(0);
    expect(s.stderr).toMatch(/not-running: no HAM is running on /);
    const j = await ham(t.home, ['--json', 'events']);
    expect(j.code).not.toBe(0);
    expect((JSON.parse(j.stdout) as { error: { code: string } }).error.code).toBe('not-running');
    const stop = await ham(t.home, ['stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/not running/);
  });

  it('a socket this user may not open: permission denied naming the path and uid, for status and stop', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    for (const args of [['status'], ['stop'], ['events'], ['raise', 'x', '--type', 't']]) {
      const r = await hamAsNobody(t.home, args);
      expect(r.code, `${args.join(' ')}: ${r.stdout}`).not.toBe(0);
      expect(r.stderr).toContain(`permission-denied: permission denied opening ${join(t.home, 'ham.sock')} as uid 65534`);
      expect(r.stderr).not.toMatch(/not running/);
    }
    const json = await hamAsNobody(t.home, ['--json', 'stop']);
    expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe('permission-denied');
    // The pair is untouched.
    expect((await status(t.home)).ham.epoch).toBe(1);
  });

  it('an error reply is printed as it came, non-zero', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const r = await ham(t.home, ['status', 'nosuch']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown-entity: no entity named "nosuch"/);
    const d = await ham(t.home, ['--json', 'detach', 'nosuch']);
    expect(d.code).not.toBe(0);
    expect((JSON.parse(d.stdout) as { error: { code: string } }).error.code).toBe('unknown-entity');
  });

  it('a HAM that does not answer: stop says timed out, not "not running"', async () => {
    const first = await hamJson<{ ham: { pid: number }; guardian: { pid: number } }>(t.home, ['start', '--hang-ms', '60000']);
    process.kill(first.guardian.pid, 'SIGSTOP');
    process.kill(first.ham.pid, 'SIGSTOP');
    try {
      const r = await ham(t.home, ['stop']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/timeout: /);
      expect(r.stdout).not.toMatch(/not running/);
    } finally {
      process.kill(first.ham.pid, 'SIGCONT');
      process.kill(first.guardian.pid, 'SIGCONT');
    }
  });
});
