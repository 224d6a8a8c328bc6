// ham stop | start | restart | reload NAME on a real pair, with real processes:
// a stop by name stays (no death, no restart) across `ham stop`/`ham start` of
// the pair and across a takeover in the middle of it; a requested restart is
// not a death; a rolling group restart waits for each member's readiness.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EntityView } from '../../src/protocol/views.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, events, ham, hamJson, lines, procsWith, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { freePorts } from '../helpers/ports.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

type Control = { request: string; group?: string; entities: (EntityView & { changed: boolean })[]; skipped: { name: string; why: string }[] };
const at = (f: string): string => join(t.home, f);
const restartOnDeath = { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } };

/** Ignores SIGTERM (the stop timeout's SIGKILL ends it); SIGUSR1 appends a line to MARKER.usr1; says when armed. */
const trap = (marker: string): string[] => [
  'perl',
  '-e',
  `$SIG{TERM} = 'IGNORE'; $SIG{USR1} = sub { open(my $u, '>>', "$ARGV[0].usr1") or return; print $u "usr1\\n"; close $u }; open(my $f, '>', "$ARGV[0].armed.$$") && close $f; sleep 1 while 1`,
  marker,
];
const armed = (marker: string, pid: number): Promise<boolean> => waitFor(`${marker} armed`, () => existsSync(`${marker}.armed.${pid}`));

async function running(name: string, other?: number): Promise<EntityView> {
  const s = await waitStatus(
    t.home,
    `${name} running`,
    (x) => entity(x, name).state === 'running' && entity(x, name).pid !== null && entity(x, name).pid !== other,
  );
  return entity(s, name);
}

describe('by name', () => {
  it('stop NAME stays stopped (no death, no restart) across ham stop / ham start of the pair; start NAME brings it back', async () => {
    const m = at('web');
    await applyConfig(t.home, { entities: { web: { command: trap(m), conditions: restartOnDeath, stop: { signal: 'SIGTERM', timeoutMs: 1000 } } } });
    const first = await running('web');
    await armed(m, first.pid!);
    const r = await hamJson<Control>(t.home, ['stop', 'web', '--wait']);
    expect(r.entities[0]).toMatchObject({
      name: 'web',
      state: 'stopped',
      stoppedByName: true,
      changed: true,
      deaths: 0,
      restarts: 0,
      lastExit: { signal: 'SIGKILL' },
    });
    expect((await ham(t.home, ['status', 'web'])).stdout).toMatch(/state: +stopped \(by `ham stop web`; `ham start web` starts it\)/);
    expect(procsWith(m)).toEqual([]);
    // The pair stopped and started again (and stop --all): it stays stopped.
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['stop', '--all']);
    await hamJson(t.home, ['start', ...CALM]);
    expect(entity(await status(t.home), 'web')).toMatchObject({ state: 'stopped', deaths: 0, restarts: 0, instance: 1 });
    expect(procsWith(m)).toEqual([]);
    const again = await hamJson<Control>(t.home, ['stop', 'web']);
    expect(again.entities[0]!.changed).toBe(false);

    const started = await hamJson<Control>(t.home, ['start', 'web', '--wait']);
    expect(started.entities[0]).toMatchObject({ state: 'running', instance: 2, deaths: 0, restarts: 0, changed: true });
    expect(started.entities[0]!.stoppedByName).toBeUndefined();
    expect(procsWith(m)).toEqual([started.entities[0]!.pid]);
    const ev = await events(t.home);
    expect(ev.filter((e) => e.entity === 'web').map((e) => `${e.condition}${e.detail ? ` ${String(e.detail)}` : ''}`)).toEqual([
      'attach',
      'requested stop requested',
      'requested start requested',
    ]);
    const plain = await ham(t.home, ['start', 'web']);
    expect(plain.stdout).toMatch(/^web: already running, pid \d+/);
  });

  it('restart NAME: its stop policy, then a new instance; not a death; reload NAME sends its reloadSignal to the process', async () => {
    const m = at('web');
    await applyConfig(t.home, { entities: { web: { command: trap(m), conditions: restartOnDeath, stop: { timeoutMs: 500 }, reloadSignal: 'SIGUSR1' } } });
    const first = await running('web');
    await armed(m, first.pid!);
    const reload = await hamJson<Control>(t.home, ['reload', 'web', '--wait']);
    expect(reload.entities[0]).toMatchObject({ pid: first.pid, stop: { reloadSignal: 'SIGUSR1' } });
    await waitFor('the reload signal handled', () => lines(`${m}.usr1`).length === 1);
    const r = await hamJson<Control>(t.home, ['restart', 'web', '--wait']);
    const e = r.entities[0]!;
    expect(e).toMatchObject({ state: 'running', instance: 2, deaths: 0, restarts: 0 });
    expect(e.pid).not.toBe(first.pid);
    expect(procsWith(m)).toEqual([e.pid]);
    const types = (await events(t.home)).filter((x) => x.entity === 'web').map((x) => x.condition);
    expect(types).toEqual(['attach', 'requested', 'requested']);
    expect(types).not.toContain('death');
  });

  it('the HAM SIGKILLed in the middle of a stop: the new HAM carries it out (SIGKILL after the timeout), it stays stopped', async () => {
    const m = at('web');
    await applyConfig(t.home, { entities: { web: { command: trap(m), conditions: restartOnDeath, stop: { timeoutMs: 3000 } } } });
    const first = await running('web');
    await armed(m, first.pid!);
    const before = await status(t.home);
    const r = await hamJson<Control>(t.home, ['stop', 'web']); // answered once asked: SIGTERM sent, ignored
    expect(r.entities[0]!.changed).toBe(true);
    process.kill(before.ham.pid!, 'SIGKILL');
    const s = await waitStatus(t.home, 'taken over, web stopped', (x) => x.ham.epoch > before.ham.epoch && entity(x, 'web').state === 'stopped', 30_000);
    expect(entity(s, 'web')).toMatchObject({ deaths: 0, restarts: 0, instance: 1, lastExit: { signal: 'SIGKILL' } });
    expect(procsWith(m)).toEqual([]);
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', ...CALM]);
    expect(entity(await status(t.home), 'web')).toMatchObject({ state: 'stopped', deaths: 0, restarts: 0 });
    expect(procsWith(m)).toEqual([]);
  });

  it('the HAM SIGKILLed in the middle of a restart: the new HAM carries it out, one new instance runs, no death', async () => {
    const m = at('web');
    await applyConfig(t.home, { entities: { web: { command: trap(m), conditions: restartOnDeath, stop: { timeoutMs: 3000 } } } });
    const first = await running('web');
    await armed(m, first.pid!);
    const before = await status(t.home);
    await hamJson<Control>(t.home, ['restart', 'web']);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (x) => x.ham.epoch > before.ham.epoch);
    const e = await running('web', first.pid!);
    expect(e).toMatchObject({ instance: 2, deaths: 0, restarts: 0, lastExit: { signal: 'SIGKILL' } });
    await waitFor('one process of web', () => procsWith(m).length === 1 && procsWith(m)[0] === e.pid);
  });

  it('restart --group: one member at a time, in order, each ready (tcp) before the next; a member stopped by name is skipped', async () => {
    const ports = await freePorts(3);
    const names = ['a', 'b', 'c'];
    const entities: Record<string, object> = {};
    names.forEach((n, i) => {
      entities[n] = { command: lateListener(ports[i]!, at(n)), group: 'g', readiness: { tcp: ports[i], intervalMs: 50, timeoutMs: 60_000 } };
    });
    entities.off = { command: ['perl', '-e', 'sleep 100000', at('off')], group: 'g' };
    await applyConfig(t.home, { groups: { g: { strategy: 'one-for-one' } }, entities });
    await waitStatus(t.home, 'all ready', (s) => [...names, 'off'].every((n) => entity(s, n).state === 'running'), 60_000);
    await hamJson(t.home, ['stop', 'off', '--wait']);
    const since = (await events(t.home)).at(-1)!.seq;
    const r = await hamJson<Control>(t.home, ['restart', '--group', 'g', '--wait']);
    expect(r.entities.map((e) => [e.name, e.state, e.ready, e.instance])).toEqual(names.map((n) => [n, 'running', true, 2]));
    expect(r.skipped).toEqual([{ name: 'off', why: 'stopped' }]);
    // Each member's restart was asked only after the one before it was ready again.
    const seq = (await events(t.home, since)).filter((e) => e.condition === 'requested' || e.condition === 'ready').map((e) => `${e.condition} ${e.entity}`);
    expect(seq).toEqual(['requested a', 'ready a', 'requested b', 'ready b', 'requested c', 'ready c']);
    expect(entity(await status(t.home), 'off').state).toBe('stopped');
  });

  it('enable of an entity that died while disabled starts it (the restart its death condition holds)', async () => {
    const m = at('web');
    await applyConfig(t.home, { entities: { web: { command: ['perl', '-e', 'sleep 100000', m], conditions: restartOnDeath } } });
    const first = await running('web');
    await hamJson(t.home, ['disable', 'web']);
    process.kill(first.pid!, 'SIGKILL');
    const dead = await waitStatus(t.home, 'web dead', (x) => entity(x, 'web').state === 'dead');
    expect(entity(dead, 'web')).toMatchObject({ deaths: 1, restarts: 0, instance: 1 });
    await hamJson(t.home, ['enable', 'web']);
    const e = await running('web', first.pid!);
    expect(e).toMatchObject({ instance: 2, deaths: 1 });
    expect(procsWith(m)).toEqual([e.pid]);
  });

  it('failed (restart intensity exceeded): start and restart point at ham reset; stopped by name, ham start brings it back', async () => {
    const m = at('once');
    await applyConfig(t.home, {
      entities: { once: { command: ['perl', '-e', 'sleep 100000', m], conditions: restartOnDeath, restart: { intensity: { max: 0, withinMs: 60_000 } } } },
    });
    const first = await running('once');
    process.kill(first.pid!, 'SIGKILL');
    await waitStatus(t.home, 'once failed', (x) => entity(x, 'once').state === 'failed');
    for (const verb of ['start', 'restart']) {
      const r = await ham(t.home, ['--json', verb, 'once']);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'bad-request', entity: 'once' });
      expect(JSON.parse(r.stdout).error.message).toMatch(new RegExp(`^${verb} once: it failed \\(.*\\): \`ham reset once\` starts it with fresh counters$`));
    }
    expect((await hamJson<Control>(t.home, ['stop', 'once'])).entities[0]).toMatchObject({ state: 'stopped', stoppedByName: true });
    const back = await hamJson<Control>(t.home, ['start', 'once', '--wait']);
    expect(back.entities[0]).toMatchObject({ state: 'running', instance: 2 });
    expect(procsWith(m)).toEqual([back.entities[0]!.pid]);
  });

  it('refusals in the one error shape: an unknown name, a placeholder, a pid-attached entity, an unknown group', async () => {
    const sleeper = (await import('node:child_process')).spawn('perl', ['-e', 'sleep 100000', at('adopted')], { detached: true, stdio: 'ignore' });
    try {
      await applyConfig(t.home, { entities: { later: { placeholder: true }, adopted: { pid: sleeper.pid } } });
      const err = async (args: string[]): Promise<{ code: string; message: string; entity?: string }> => {
        const r = await ham(t.home, ['--json', ...args]);
        expect(r.code, args.join(' ')).toBe(1);
        return JSON.parse(r.stdout).error;
      };
      expect(await err(['stop', 'nope'])).toEqual({ code: 'unknown-entity', entity: 'nope', message: 'no entity named "nope"' });
      expect(await err(['restart', 'nope', '--wait'])).toMatchObject({ code: 'unknown-entity' });
      expect(await err(['start', 'later'])).toMatchObject({
        code: 'bad-request',
        entity: 'later',
        message: 'start later: it is a placeholder: no process is attached to it yet',
      });
      expect((await err(['start', 'adopted'])).message).toMatch(/^start adopted: it was attached by pid without a command: ham cannot start it/);
      expect((await err(['restart', '--group', 'nope'])).message).toMatch(/^restart --group: expected a group with members \(none declared\), got "nope"/);
      expect((await err(['stop', 'x', '--all'])).message).toMatch(/not both/);
      expect((await err(['reload', 'later'])).code).toBe('bad-request');
      // A pid-attached entity can be stopped (it has a process): by its stop signal, and it stays stopped.
      const s = await hamJson<Control>(t.home, ['stop', 'adopted', '--wait']);
      expect(s.entities[0]).toMatchObject({ state: 'stopped', deaths: 0 });
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

/** Listens on PORT after a short delay (so that readiness is not at once); SIGTERM ends it. */
const lateListener = (port: number, marker: string): string[] => [
  'node',
  '-e',
  `setTimeout(() => require('net').createServer((c) => c.destroy()).listen(+process.argv[1], '127.0.0.1'), 300)`,
  String(port),
  marker,
];
