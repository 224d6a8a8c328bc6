// Readiness the C keeper answers, with real processes: systemd's own
// `systemd-notify` from a shell entity (READY=1, STATUS=, STOPPING=1, WATCHDOG=1,
// EXTEND_TIMEOUT_USEC=), a datagram from an unrelated process (ignored and
// counted), a real daemon Debian packages (dbus-daemon), dependants that wait, takeovers (the HAM SIGKILLed while starting
// and after ready) and a SIGKILLed keeper (a new one adopts the entity, which
// never dies of it); fd readiness (s6 style) the same way.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, events, ham, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const at = (f: string): string => join(t.home, f);
const apply = async (config: object): Promise<void> => void (await applyConfig(t.home, config));

/** A shell entity: waits for FLAG, then runs `then` (its env written to ENV first), then sleeps. */
const waitsThen = (flag: string, then: string, env = at('env')): string[] => [
  'sh',
  '-c',
  `env > ${env}; while [ ! -e ${flag} ]; do sleep 0.05; done; ${then}; exec sleep 1000`,
];

/** Send `text` to the notify socket in `dir` from this process (not one of the entity's). */
function sendFromOutside(dir: string, text: string): void {
  const [sock] = readdirSync(dir).filter((f) => /^\d+$/.test(f));
  const pl = 'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; send($s, $ARGV[1], 0, pack_sockaddr_un($ARGV[0])) or die $!';
  execFileSync('perl', ['-MSocket', '-e', pl, join(dir, sock!), text]);
}

describe('readiness by notify (sd_notify)', () => {
  it('starting until READY=1, then running and ready with its STATUS text; its dependant starts only then; an outsider is ignored and counted', async () => {
    await apply({
      entities: {
        web: {
          command: waitsThen(at('go'), `touch ${at('sent')}; systemd-notify --ready --status="serving on 8080"; echo $? > ${at('rc')}`),
          readiness: { notify: true, timeoutMs: 120_000 },
          conditions: { up: { type: 'ready', actions: [{ kind: 'log', message: 'web is ready' }] } },
        },
        dep: {
          command: ['sh', '-c', `if [ -e ${at('sent')} ]; then echo ok > ${at('dep')}; else echo early > ${at('dep')}; fi; exec sleep 1000`],
          requires: ['web'],
        },
      },
    });
    const starting = await waitStatus(t.home, 'web starting', (s) => entity(s, 'web').state === 'starting' && existsSync(at('env')));
    expect(entity(starting, 'dep').pid).toBeNull();
    const env = readFileSync(at('env'), 'utf8');
    expect(env).toMatch(new RegExp(`^NOTIFY_SOCKET=${t.home}/run/notify/\\d+$`, 'm'));
    expect(env).not.toMatch(/^HAM_READY/m);
    sendFromOutside(at('run/notify'), 'READY=1\nSTATUS=forged');
    const counted = await waitStatus(t.home, 'the outsider counted', (s) => (entity(s, 'web').keeperReady?.ignored ?? 0) >= 1);
    expect(entity(counted, 'web')).toMatchObject({ state: 'starting', ready: false });
    writeFileSync(at('go'), '');
    const s = await waitStatus(t.home, 'web ready, dep running', (x) => entity(x, 'web').ready && entity(x, 'dep').state === 'running');
    expect(entity(s, 'web')).toMatchObject({ state: 'running', readyText: 'serving on 8080', instance: 1, deaths: 0 });
    // It waited for its BARRIER=1's fd to be closed (else it fails after 5 s): the keeper closed it.
    await waitFor('systemd-notify returned', () => existsSync(at('rc')) && readFileSync(at('rc'), 'utf8').trim());
    expect(readFileSync(at('rc'), 'utf8').trim()).toBe('0');
    await waitFor('dep started', () => existsSync(at('dep')));
    expect(readFileSync(at('dep'), 'utf8').trim()).toBe('ok');
    const text = await ham(t.home, ['status', 'web']);
    expect(text.stdout).toMatch(/readiness: +notify \(sd_notify\), within 120000 ms; ready: "?serving on 8080"?; 1 datagrams ignored/);
    expect((await events(t.home)).filter((e) => e.entity === 'web' && e.condition === 'ready')).toHaveLength(1);
  });

  it('malformed datagrams from the entity itself are ignored and counted; STATUS is cut at its bound, unknown keys ignored', async () => {
    const pl = [
      'use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; my $a = pack_sockaddr_un($ENV{NOTIFY_SOCKET});',
      'send($s, "READY=1\\0x", 0, $a); send($s, "", 0, $a); send($s, "STATUS=" . ("x" x 5000), 0, $a);',
      'select(undef, undef, undef, 0.05) until -e $ARGV[0]; send($s, "READY=1\\nSTATUS=" . ("y" x 300) . "\\nMAKE_IT_SO=1", 0, $a) or die $!; sleep 1000',
    ].join(' ');
    await apply({ entities: { odd: { command: ['perl', '-e', pl, at('go')], readiness: { notify: true, timeoutMs: 120_000 } } } });
    const s1 = await waitStatus(t.home, 'three ignored', (s) => entity(s, 'odd').keeperReady?.ignored === 3);
    expect(entity(s1, 'odd')).toMatchObject({ state: 'starting', ready: false });
    writeFileSync(at('go'), '');
    const s = await waitStatus(t.home, 'ready', (x) => entity(x, 'odd').ready);
    expect(entity(s, 'odd').readyText).toBe('y'.repeat(256));
    expect(entity(s, 'odd').keeperReady).toMatchObject({ ignored: 3, reloading: false, stopping: false });
  });

  it('a real Type=notify daemon (dbus-daemon): ready once it says so, and its dependant finds its socket', async () => {
    const bus = at('bus');
    // Its own minimal configuration: no session or system bus files needed.
    const conf = `<busconfig><type>session</type><listen>unix:path=${bus}</listen><auth>EXTERNAL</auth><policy context="default"><allow own="*"/></policy></busconfig>`;
    writeFileSync(at('bus.conf'), conf);
    await apply({
      entities: {
        bus: { command: ['dbus-daemon', `--config-file=${at('bus.conf')}`, '--nofork', '--nopidfile'], readiness: { notify: true } },
        client: {
          command: ['sh', '-c', `if [ -S ${bus} ]; then echo ok > ${at('client')}; else echo early > ${at('client')}; fi; exec sleep 1000`],
          requires: ['bus'],
        },
      },
    });
    const s = await waitStatus(t.home, 'bus ready, client running', (x) => entity(x, 'bus').ready && entity(x, 'client').state === 'running');
    expect(entity(s, 'bus')).toMatchObject({ state: 'running', readyText: 'READY=1', deaths: 0 });
    await waitFor('client started', () => existsSync(at('client')));
    expect(readFileSync(at('client'), 'utf8').trim()).toBe('ok');
  });

  it('WATCHDOG=1 beats every watchdogMs (WATCHDOG_USEC, WATCHDOG_PID given); a missed one fires heartbeat-missed-low', async () => {
    const beating = at('beating');
    writeFileSync(beating, '');
    await apply({
      entities: {
        dog: {
          command: waitsThen(at('go'), `systemd-notify --ready; while [ -e ${beating} ]; do systemd-notify WATCHDOG=1; sleep 0.1; done`),
          readiness: { notify: true, watchdogMs: 1500 },
          conditions: { late: { type: 'heartbeat-missed-low', actions: [{ kind: 'log', message: 'dog missed a beat' }] } },
        },
      },
    });
    writeFileSync(at('go'), '');
    const s = await waitStatus(t.home, 'dog ready', (x) => entity(x, 'dog').ready);
    const env = readFileSync(at('env'), 'utf8');
    expect(env).toMatch(/^WATCHDOG_USEC=1500000$/m);
    expect(env).toMatch(new RegExp(`^WATCHDOG_PID=${entity(s, 'dog').pid}$`, 'm'));
    // Beating: wait until a few periods passed since it became ready, and nothing fired.
    const readyAt = Date.now();
    await waitFor('three periods of beats', () => Date.now() - readyAt > 4500 || undefined, 20_000, 100);
    expect((await events(t.home)).filter((e) => e.entity === 'dog' && e.condition === 'heartbeat-missed-low')).toHaveLength(0);
    execFileSync('rm', [beating]);
    await waitFor('the missed beat fired', async () => (await events(t.home)).some((e) => e.entity === 'dog' && e.condition === 'heartbeat-missed-low'));
    expect(entity(await waitStatus(t.home, 'still running', () => true), 'dog').state).toBe('running');
  });

  it('EXTEND_TIMEOUT_USEC moves the deadline, and a takeover keeps it; the HAM SIGKILLed while starting: READY=1 still arrives', async () => {
    await apply({
      entities: {
        slow: {
          command: ['sh', '-c', `systemd-notify EXTEND_TIMEOUT_USEC=120000000; ${waitsThen(at('go'), 'systemd-notify --ready --status="late but fine"')[2]}`],
          readiness: { notify: true, timeoutMs: 1500 },
        },
      },
    });
    const before = await waitStatus(t.home, 'extended', (s) => entity(s, 'slow').keeperReady?.extendedTo != null);
    const e = entity(before, 'slow');
    expect(e.keeperReady!.extendedTo!).toBeGreaterThan(Date.now() + 60_000);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && s.ham.pid !== before.ham.pid);
    // Past its own timeoutMs (1500) by far: still starting, not failed.
    await waitFor('past the first deadline', () => Date.now() > Date.parse(e.startedAt!) + 4000 || undefined, 20_000, 100);
    const mid = await waitStatus(t.home, 'status', () => true);
    expect(entity(mid, 'slow')).toMatchObject({ state: 'starting', deaths: 0, pid: e.pid });
    writeFileSync(at('go'), '');
    const s = await waitStatus(t.home, 'ready', (x) => entity(x, 'slow').ready);
    expect(entity(s, 'slow')).toMatchObject({ state: 'running', readyText: 'late but fine', pid: e.pid, instance: 1, deaths: 0 });
  });

  it('a restart is a new instance: starting again until its own READY=1 (the earlier one does not count)', async () => {
    // Each instance: READY=1 with its instance in STATUS; the first then waits for DIE and exits, the second waits for GO2.
    const script = `if [ "$HAM_INSTANCE" = 2 ]; then while [ ! -e ${at('go2')} ]; do sleep 0.05; done; fi; systemd-notify --ready --status="instance $HAM_INSTANCE"; while [ ! -e ${at('die')} ] || [ "$HAM_INSTANCE" = 2 ]; do sleep 0.05; done`;
    await apply({
      entities: {
        web: {
          command: ['sh', '-c', script],
          readiness: { notify: true, timeoutMs: 120_000 },
          conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
        },
      },
    });
    await waitStatus(t.home, 'first ready', (s) => entity(s, 'web').ready && entity(s, 'web').readyText === 'instance 1');
    writeFileSync(at('die'), '');
    const second = await waitStatus(t.home, 'second starting', (s) => entity(s, 'web').instance === 2 && entity(s, 'web').startedAt !== null);
    expect(entity(second, 'web')).toMatchObject({ state: 'starting', ready: false, readyText: null, deaths: 1 });
    writeFileSync(at('go2'), '');
    const s = await waitStatus(t.home, 'second ready', (x) => entity(x, 'web').ready);
    expect(entity(s, 'web')).toMatchObject({ state: 'running', instance: 2, readyText: 'instance 2' });
  });

  it("MAINPID= is followed: the command ends, the entity goes on as that process, and its death is the entity's", async () => {
    // A forking daemon's shape: start the real one in the background, name it, say ready, and exit 0.
    const script = `echo $$ > ${at('sh')}; sleep 1000 & echo $! > ${at('main')}; systemd-notify --ready MAINPID=$!; exit 0`;
    await apply({
      entities: { fork: { command: ['sh', '-c', script], readiness: { notify: true, timeoutMs: 120_000 } } },
    });
    await waitFor('its main pid said', () => existsSync(at('main')) && readFileSync(at('main'), 'utf8').trim());
    const main = Number(readFileSync(at('main'), 'utf8').trim());
    const s = await waitStatus(t.home, 'ready as its main pid', (x) => entity(x, 'fork').ready && entity(x, 'fork').pid === main);
    expect(entity(s, 'fork').state).toBe('running');
    // The shell exits 0 after the datagram (reaped by its keeper): the entity still runs, no death.
    const sh = Number(readFileSync(at('sh'), 'utf8').trim());
    await waitFor('the shell gone', () => !existsSync(`/proc/${sh}`));
    expect(entity(await waitStatus(t.home, 'status', () => true), 'fork')).toMatchObject({ state: 'running', deaths: 0, pid: main });
    process.kill(main, 'SIGKILL');
    const d = await waitStatus(t.home, 'its death', (x) => entity(x, 'fork').deaths === 1);
    expect(entity(d, 'fork')).toMatchObject({ state: 'dead', instance: 1 });
  });

  it('MAINPID= followed, then `ham stop --all`: its stop signal reaches that process', async () => {
    const script = `sleep 1000 & echo $! > ${at('main')}; systemd-notify --ready MAINPID=$!; exit 0`;
    await apply({ entities: { fork: { command: ['sh', '-c', script], readiness: { notify: true } } } });
    await waitFor('its main pid said', () => existsSync(at('main')) && readFileSync(at('main'), 'utf8').trim());
    const main = Number(readFileSync(at('main'), 'utf8').trim());
    await waitStatus(t.home, 'ready as its main pid', (x) => entity(x, 'fork').ready && entity(x, 'fork').pid === main);
    await hamJson(t.home, ['stop', '--all']);
    await waitFor('its main process gone', () => !existsSync(`/proc/${main}`) || readFileSync(`/proc/${main}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'));
  });

  it('not ready within timeoutMs: a failed start, and the event says no READY=1 came', async () => {
    await apply({ entities: { mute: { command: ['sleep', '1000'], readiness: { notify: true, timeoutMs: 1000 } } } });
    const s = await waitStatus(t.home, 'failed', (x) => entity(x, 'mute').state === 'dead');
    expect(entity(s, 'mute').lastError).toBe('not ready within 1000 ms: no READY=1 came on NOTIFY_SOCKET');
  });

  it('the HAM SIGKILLed after ready: still ready, no second ready event; its keeper SIGKILLed: a new keeper adopts it, RELOADING=1 then READY=1 come', async () => {
    await apply({
      entities: {
        web: {
          command: waitsThen(
            at('go'),
            `systemd-notify --ready --status=one; while [ ! -e ${at('again')} ]; do sleep 0.05; done; systemd-notify RELOADING=1 STATUS=reloading; while [ ! -e ${at('done')} ]; do sleep 0.05; done; systemd-notify --ready --status=two`,
          ),
          readiness: { notify: true },
          conditions: { up: { type: 'ready', actions: [{ kind: 'log', message: 'up' }] } },
        },
      },
    });
    writeFileSync(at('go'), '');
    const before = await waitStatus(t.home, 'ready', (s) => entity(s, 'web').ready);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && s.ham.pid !== before.ham.pid);
    const b = entity(before, 'web');
    const after = await waitStatus(t.home, 'status', () => true);
    expect(entity(after, 'web')).toMatchObject({ ready: true, state: 'running', pid: b.pid, readyText: 'one', instance: 1 });
    process.kill(b.keeperPid!, 'SIGKILL');
    await waitStatus(t.home, 'a new keeper', (s) => ![null, b.keeperPid].includes(entity(s, 'web').keeperPid));
    writeFileSync(at('again'), '');
    await waitStatus(t.home, 'reloading', (s) => entity(s, 'web').keeperReady?.reloading === true);
    writeFileSync(at('done'), '');
    const s = await waitStatus(t.home, 'reloaded', (x) => entity(x, 'web').keeperReady?.reloading === false && entity(x, 'web').readyText === 'two');
    expect(entity(s, 'web')).toMatchObject({ state: 'running', ready: true, pid: b.pid, deaths: 0, instance: 1 });
    expect((await events(t.home)).filter((e) => e.entity === 'web' && e.condition === 'ready')).toHaveLength(1);
  });

  it('STOPPING=1 from systemd-notify is shown: keeperReady.stopping in status --json, `stopping` on the readiness line', async () => {
    await apply({
      entities: {
        web: {
          command: waitsThen(at('go'), `systemd-notify --ready --status=up; while [ ! -e ${at('bye')} ]; do sleep 0.05; done; systemd-notify STOPPING=1`),
          readiness: { notify: true },
        },
      },
    });
    writeFileSync(at('go'), '');
    await waitStatus(t.home, 'ready', (s) => entity(s, 'web').ready && entity(s, 'web').keeperReady?.stopping === false);
    writeFileSync(at('bye'), '');
    const s = await waitStatus(t.home, 'stopping said', (x) => entity(x, 'web').keeperReady?.stopping === true);
    expect(entity(s, 'web')).toMatchObject({ state: 'running', ready: true, readyText: 'up' });
    expect((await ham(t.home, ['status', 'web'])).stdout).toMatch(/readiness: +notify \(sd_notify\).*; ready: up; stopping/);
  });
});

describe('readiness by fd (s6 style)', () => {
  it('a newline on fd 3 means ready; its keeper SIGKILLed first: the entity never dies of it, the newline still counts', async () => {
    await apply({ entities: { srv: { command: waitsThen(at('go'), 'echo >&3; echo after >&3'), readiness: { fd: 3, timeoutMs: 120_000 } } } });
    const before = entity(
      await waitStatus(t.home, 'starting', (s) => entity(s, 'srv').state === 'starting' && entity(s, 'srv').keeperPid !== null && existsSync(at('env'))),
      'srv',
    );
    process.kill(before.keeperPid!, 'SIGKILL');
    writeFileSync(at('go'), ''); // may come before the new keeper: the FIFO keeps the newline
    const s = await waitStatus(t.home, 'ready', (x) => entity(x, 'srv').ready);
    expect(entity(s, 'srv')).toMatchObject({ state: 'running', pid: before.pid, deaths: 0, instance: 1, readyText: 'a newline on fd 3' });
    expect(entity(s, 'srv').keeperPid).not.toBe(before.keeperPid);
    expect(existsSync(`/proc/${before.pid}`)).toBe(true);
    // Detached (removed): its FIFO goes with it.
    expect(readdirSync(at('run/notify')).filter((f) => f.endsWith('.fd'))).toHaveLength(1);
    await hamJson(t.home, ['detach', 'srv']);
    await waitFor('its FIFO removed', () => readdirSync(at('run/notify')).every((f) => !f.endsWith('.fd')));
  });
});
