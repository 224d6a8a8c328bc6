// `ham apply -f`: declarative, idempotent, all-or-nothing, errors with paths.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { CALM, ham, hamJson, procsWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const yaml = (home: string) => `
entities:
  web:
    command: ["perl", "-e", "sleep 100000", "${home}/web"]
    env: { PORT: "8080" }
    conditions:
      died:
        type: death
        rearm: true
        actions:
          - kind: execute
            argv: ["sh", "-c", "echo $HAM_ENTITY >> ${home}/notified"]
            timeoutMs: 2000
          - kind: restart
            keepOnFail: true
          - kind: waitfor
            path: web.ready
            timeoutMs: 5000
            onFail:
              - { kind: execute, argv: ["sh", "-c", "echo page >> ${home}/paged"] }
      slow:
        type: raise
        match: { type: latency, severity: 2 }
        actions:
          - { kind: log, message: "web is slow", level: warn, breakOnFail: true }
  db:
    placeholder: true
  "*":
    conditions:
      any-death: { type: death, rearm: true, actions: [ { kind: log, message: "died" } ] }
`;

function write(name: string, text: string): string {
  const file = join(t.home, name);
  writeFileSync(file, text);
  return file;
}

/** Status without what changes by itself (times, pids): to compare configurations. */
async function config() {
  const s = await status(t.home);
  return { entities: s.entities.map((e) => ({ name: e.name, kind: e.kind, argv: e.argv, conditions: e.conditions })), global: s.global };
}

describe('ham apply -f', () => {
  it('applies a YAML file: entities, conditions, actions, the global entity; applying it again changes nothing', async () => {
    const file = write('ham.yaml', yaml(t.home));
    const first = await hamJson<{ changes: { entity: string; change: string }[] }>(t.home, ['apply', '-f', file]);
    expect(first.changes.map((c) => [c.entity, c.change])).toEqual([
      ['web', 'created'],
      ['db', 'created'],
      ['*', 'created'],
    ]);
    const s = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running');
    expect(entity(s, 'web').conditions.map((c) => [c.name, c.type, c.actions.map((a) => a.kind)])).toEqual([
      ['died', 'death', ['execute', 'restart', 'waitfor']],
      ['slow', 'raise', ['log']],
    ]);
    expect(entity(s, 'db')).toMatchObject({ kind: 'placeholder', pid: null });
    expect(s.global!.conditions[0]).toMatchObject({ name: 'any-death', type: 'death' });
    const before = await config();
    const again = await hamJson<{ changes: { change: string }[] }>(t.home, ['apply', '-f', file]);
    expect(again.changes.map((c) => c.change)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect(await config()).toEqual(before);
    expect(procsWith(`${t.home}/web`)).toHaveLength(1);
  });

  it('the applied recovery works: web dies → notify → restart → waitfor fails → page', async () => {
    await hamJson(t.home, ['apply', '-f', write('ham.yaml', yaml(t.home))]);
    const s = await waitStatus(t.home, 'web running', (x) => entity(x, 'web').state === 'running');
    process.kill(entity(s, 'web').pid!, 'SIGKILL');
    const { readFileSync } = await import('node:fs');
    await waitFor('paged (web.ready never appears)', () => {
      try {
        return readFileSync(join(t.home, 'paged'), 'utf8').trim() === 'page';
      } catch {
        return false;
      }
    });
    expect(readFileSync(join(t.home, 'notified'), 'utf8').trim()).toBe('web');
    expect(entity(await status(t.home), 'web')).toMatchObject({ restarts: 1, state: 'running' });
  });

  it('an invalid file changes nothing and reports every problem with its path in the file', async () => {
    await hamJson(t.home, ['apply', '-f', write('ok.yaml', yaml(t.home))]);
    const before = await config();
    const bad = write(
      'bad.yaml',
      `
entities:
  web:
    command: ["perl", "-e", "sleep 1"]
    conditions:
      died:
        type: death
        actions:
          - kind: execute
          - kind: reboot
          - { kind: waitfor, timeoutMs: -5 }
  "a/b":
    command: ["no-such-program-xyz"]
  both:
    command: ["sleep", "1"]
    placeholder: true
  neither:
    env: { A: "1" }
  api:
    command: ["sleep", "1"]
    group: backend
`,
    );
    const r = await ham(t.home, ['apply', '-f', bad]);
    expect(r.code).toBe(1);
    for (const want of [
      'entities.web.conditions.died.actions[0].argv: expected array, got nothing',
      'entities.web.conditions.died.actions[1].kind: expected one of restart, execute, signal, notify, waitfor, heartbeat-healthy, log, got "reboot"',
      'entities.web.conditions.died.actions[2].timeoutMs: expected ≥ 0',
      "entities.a/b: expected a name without '/'",
      'entities.a/b.command[0]: expected an executable file, got "no-such-program-xyz"',
      'entities.both: expected a command, a pid (optionally with a command to restart it with), or placeholder: true',
      'entities.neither: expected a command, a pid',
      'entities.api.group: expected a group declared under groups: (none), got "backend"',
    ]) {
      expect(r.stderr).toContain(want);
    }
    expect(await config()).toEqual(before);
  });

  it('a file that is not YAML says where', async () => {
    const r = await ham(t.home, ['apply', '-f', write('broken.yaml', 'entities:\n  web: [unclosed\n')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not valid YAML or JSON \(line \d+, column \d+\)/);
  });

  it('an update replaces what changed, keeps the counters of what did not, removes what is gone', async () => {
    await hamJson(t.home, ['apply', '-f', write('v1.yaml', yaml(t.home))]);
    await hamJson(t.home, ['raise', 'web', '--type', 'latency', '--severity', '2']);
    await waitFor('slow counted', async () => entity(await status(t.home), 'web').conditions.find((c) => c.name === 'slow')!.fired === 1);
    const v2 = yaml(t.home)
      .replace('died:\n        type: death', 'died:\n        type: abnormal-death')
      .replace(/  db:\n    placeholder: true\n/, '');
    const r = await hamJson<{ changes: { entity: string; change: string; details: string[] }[] }>(t.home, ['apply', '-f', write('v2.yaml', v2)]);
    expect(r.changes.find((c) => c.entity === 'web')).toMatchObject({ change: 'updated', details: ['condition died updated'] });
    const web = entity(await status(t.home), 'web');
    expect(web.conditions.find((c) => c.name === 'died')!.type).toBe('abnormal-death');
    expect(web.conditions.find((c) => c.name === 'slow')!.fired).toBe(1);
    expect((await status(t.home)).entities.map((e) => e.name).sort()).toEqual(['db', 'web']); // apply does not prune entities
  });

  it('applying hundreds of entities does not stall the HAM into a takeover', async () => {
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    const before = await status(t.home);
    const entities = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`bulk${i}`, { command: ['sleep', '100000'] }]));
    await hamJson(t.home, ['apply', '-f', write('bulk.json', JSON.stringify({ entities }))]);
    const s = await waitStatus(t.home, '400 running', (x) => x.entities.filter((e) => e.state === 'running').length === 400, 60_000);
    expect(s.ham).toEqual(before.ham); // same HAM, same epoch, no failure
  }, 90_000);

  it('accepts JSON too, and fills a placeholder', async () => {
    await hamJson(t.home, ['attach', 'later']);
    const json = JSON.stringify({ entities: { later: { command: ['perl', '-e', 'sleep 100000', `${t.home}/later`] } } });
    const r = await hamJson<{ changes: { change: string; details: string[] }[] }>(t.home, ['apply', '-f', write('later.json', json)]);
    expect(r.changes[0]).toMatchObject({ change: 'created', details: ['spawned (placeholder filled)'] });
    await waitStatus(t.home, 'later running', (x) => entity(x, 'later').state === 'running');
  });
});
