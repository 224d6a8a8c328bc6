// Running as (README "Running as"), with real processes: a HAM running as root
// starts an entity as nobody:nogroup with supplementary groups, a umask, a nice
// value, an oom_score_adj, limits and an env file, read back from /proc of the
// running process; its output is still captured and its readiness (notify as
// another user: a socket under /run/ham-notify, the user's, credentials checked; fd) still answered;
// a SIGKILLed entity comes back the same. Bad inputs are refused with their
// path and nothing is changed (cgroup: is test/ham/cgroups.test.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Issue } from '../../src/errors.js';
import { otherNotifyDir } from '../../src/keeper/notify-dir.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, applyIssues, CALM, ham, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => {
  const home = t.home;
  t.cleanup(ctx);
  rmSync(otherNotifyDir(home), { recursive: true, force: true }); // the home's folder under /run/ham-notify (notify-dir.ts)
});

const root = process.geteuid?.() === 0;
const at = (f: string): string => join(t.home, f);
const procField = (pid: number, field: string): string => new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!.trim();
const gidOf = (name: string): number => Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
const environ = (pid: number): string[] => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

describe.skipIf(!root)('running as another user (the HAM is root)', () => {
  it('user, groups, umask, nice, oomScoreAdj, limits and an env file reach the process; output is captured; a restart keeps them', async () => {
    writeFileSync(at('app.env'), ['# the app', 'export GREETING="hello world"', "RAW='a $b'", 'PLAIN = value # a comment', 'KEPT=from-file', ''].join('\n'));
    const config = {
      entities: {
        app: {
          command: ['sh', '-c', 'echo out-line; echo err-line >&2; exec sleep 1000'],
          cwd: '/',
          user: 'nobody:nogroup',
          groups: ['daemon', 'nogroup'],
          umask: '0027',
          nice: 7,
          oomScoreAdj: 500,
          limits: { nofile: { soft: 100, hard: 200 }, core: 0 },
          envFile: at('app.env'),
          env: { KEPT: 'from-env' },
          conditions: { died: { type: 'death', actions: [{ kind: 'restart' }] } },
        },
      },
    };
    await applyConfig(t.home, config);
    const s = await waitStatus(t.home, 'app running', (x) => entity(x, 'app').state === 'running' && entity(x, 'app').pid !== null);
    const pid = entity(s, 'app').pid!;
    const nogroup = gidOf('nogroup');
    expect(procField(pid, 'Uid').split(/\s+/)).toEqual(['65534', '65534', '65534', '65534']);
    expect(procField(pid, 'Gid').split(/\s+/)).toEqual(Array(4).fill(String(nogroup)));
    expect(
      procField(pid, 'Groups')
        .split(/\s+/)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([gidOf('daemon'), nogroup].sort((a, b) => a - b));
    expect(procField(pid, 'Umask')).toBe('0027');
    expect(procField(pid, 'CapEff')).toBe('0000000000000000');
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]).toBe('7');
    expect(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('500');
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    expect(limits).toMatch(/^Max open files\s+100\s+200\s/m);
    expect(limits).toMatch(/^Max core file size\s+0\s+0\s/m);
    const env = environ(pid);
    expect(env).toEqual(expect.arrayContaining(['GREETING=hello world', 'RAW=a $b', 'PLAIN=value', 'KEPT=from-env', 'USER=nobody', 'HOME=/nonexistent']));
    expect(env.filter((v) => v.startsWith('HAM_RUN_'))).toEqual([]);
    // Its output, through FIFOs the keeper opened before the ids changed.
    await waitFor('both lines in the log', async () => {
      const out = (await ham(t.home, ['logs', 'app'])).stdout;
      return out.includes('out-line') && out.includes('err-line');
    });
    const text = await ham(t.home, ['status', 'app']);
    expect(text.stdout).toMatch(
      /running as: +user nobody \(65534\); group nogroup \(\d+\); groups daemon,nogroup; umask 0027; nice 7; oomScoreAdj 500; nofile 100\/200; core 0; envFile \S+app\.env/,
    );
    const json = await hamJson<{ entities: { runAs: unknown }[] }>(t.home, ['status', 'app']);
    expect(JSON.stringify(json)).toContain('"uid":65534');
    process.kill(pid, 'SIGKILL');
    const again = await waitStatus(
      t.home,
      'app restarted',
      (x) => entity(x, 'app').instance === 2 && entity(x, 'app').state === 'running' && entity(x, 'app').pid !== null,
    );
    const pid2 = entity(again, 'app').pid!;
    expect(procField(pid2, 'Uid').split(/\s+/)[0]).toBe('65534');
    expect(readFileSync(`/proc/${pid2}/limits`, 'utf8')).toMatch(/^Max open files\s+100\s+200\s/m);
    // The same file again changes nothing of it; another nice is a change (for the next keeper's start).
    type Applied = { changes: { change: string; details: string[] }[] };
    const same = (await applyConfig<Applied>(t.home, config)).changes[0]!;
    expect(same.details.filter((d) => d.includes('running as'))).toEqual([]);
    config.entities.app.nice = 8;
    expect((await applyConfig<Applied>(t.home, config)).changes[0]).toMatchObject({
      change: 'updated',
      details: [expect.stringContaining('running as changed')],
    });
    expect((await ham(t.home, ['status', 'app'])).stdout).toMatch(/running as: .*nice 8;/);
  });

  it('readiness still answers as nobody: notify (a socket under /run/ham-notify, owned by the user, 0600) and fd', async () => {
    await applyConfig(t.home, {
      entities: {
        told: {
          command: ['sh', '-c', 'systemd-notify --ready --status="as nobody"; exec sleep 1000'],
          cwd: '/',
          user: 'nobody',
          readiness: { notify: true, timeoutMs: 120_000 },
        },
        fd: { command: ['sh', '-c', 'echo >&3; exec sleep 1000'], cwd: '/', user: 'nobody', readiness: { fd: 3, timeoutMs: 120_000 } },
      },
    });
    const s = await waitStatus(t.home, 'both ready', (x) => entity(x, 'told').ready && entity(x, 'fd').ready, 120_000);
    expect(entity(s, 'told').readyText).toBe('as nobody');
    const env = environ(entity(s, 'told').pid!);
    const sock = env.find((v) => v.startsWith('NOTIFY_SOCKET='))!.slice('NOTIFY_SOCKET='.length);
    expect(sock).toMatch(/^\/run\/ham-notify\/[0-9a-f]{16}\/\d+$/);
    const st = statSync(sock);
    expect([st.isSocket(), st.uid, st.mode & 0o777]).toEqual([true, 65534, 0o600]);
    expect([statSync(dirname(sock)).uid, statSync(dirname(sock)).mode & 0o7777]).toEqual([0, 0o711]);
    expect(procField(entity(s, 'fd').pid!, 'Uid').split(/\s+/)[0]).toBe('65534');
  });

  it('an outsider running as the same user is ignored on the notify socket; the entity itself is heard', async () => {
    const go = join(tmpdir(), `ham-runas-go-${process.pid}-${Date.now()}`); // outside the 0700 home: nobody can see it
    await applyConfig(t.home, {
      entities: {
        told: {
          command: ['sh', '-c', `while [ ! -e ${go} ]; do sleep 0.05; done; systemd-notify --ready; exec sleep 1000`],
          cwd: '/',
          user: 'nobody',
          readiness: { notify: true, timeoutMs: 120_000 },
        },
      },
    });
    const s = await waitStatus(t.home, 'told starting', (x) => entity(x, 'told').state === 'starting' && entity(x, 'told').pid !== null);
    const name = environ(entity(s, 'told').pid!)
      .find((v) => v.startsWith('NOTIFY_SOCKET='))!
      .slice('NOTIFY_SOCKET='.length);
    const pl = 'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; send($s, "READY=1", 0, pack_sockaddr_un($ARGV[0])) or die $!';
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'perl', '-MSocket', '-e', pl, name], { cwd: '/' });
    const counted = await waitStatus(t.home, 'the outsider counted', (x) => (entity(x, 'told').keeperReady?.ignored ?? 0) >= 1);
    expect(entity(counted, 'told')).toMatchObject({ state: 'starting', ready: false });
    writeFileSync(go, '');
    try {
      await waitStatus(t.home, 'told ready', (x) => entity(x, 'told').ready);
    } finally {
      rmSync(go, { force: true });
    }
  });

  it('a readiness command runs as the entity’s user and group only (status says so); an execute action as the user it names', async () => {
    await applyConfig(t.home, {
      entities: {
        app: {
          command: ['sleep', '1000'],
          cwd: '/',
          user: 'nobody',
          groups: ['daemon'],
          umask: '0027',
          // Its user and group only (README): no supplementary groups, and the HAM's umask, not the entity's.
          readiness: {
            command: ['sh', '-c', '[ "$(id -u)" = 65534 ] && [ "$USER" = nobody ] && [ "$(id -G)" = "$(id -g)" ] && [ "$(umask)" != 0027 ]'],
            intervalMs: 50,
            timeoutMs: 120_000,
          },
          conditions: {
            died: { type: 'death', actions: [{ kind: 'execute', argv: ['sh', '-c', 'echo "action uid=$(id -u) user=$USER"'], user: 'daemon' }] },
          },
        },
      },
    });
    const s = await waitStatus(t.home, 'app ready', (x) => entity(x, 'app').ready, 120_000);
    expect(procField(entity(s, 'app').pid!, 'Umask')).toBe('0027'); // the entity gets what its probe does not
    expect((await ham(t.home, ['status', 'app'])).stdout).toMatch(
      /readiness: +command .* \(as nobody:nogroup only: no supplementary groups, limits, umask, nice or oomScoreAdj\)/,
    );
    process.kill(entity(s, 'app').pid!, 'SIGKILL');
    const uid = execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' }).trim();
    await waitFor('the action ran as daemon', async () => (await ham(t.home, ['logs', 'app/died'])).stdout.includes(`action uid=${uid} user=daemon`));
    const issues = await applyIssues(t.home, {
      entities: { b: { command: ['true'], conditions: { d: { type: 'death', actions: [{ kind: 'execute', argv: ['true'], user: 'no-such-user-ham' }] } } } },
    });
    expect(issues).toEqual([
      { path: 'entities.b.conditions.d.actions[0].user', expected: expect.stringContaining('a user that exists'), got: '"no-such-user-ham"' },
    ]);
  });

  it('refuses, naming the path, with nothing changed: no such user or group, an unreadable or bad env file, limits it cannot set, oomScoreAdj out of range', async () => {
    writeFileSync(at('bad.env'), 'GOOD=1\nthis is not an assignment\n');
    const issues = await applyIssues(t.home, {
      entities: {
        a: { command: ['true'], user: 'no-such-user-ham' },
        b: { command: ['true'], user: 'nobody:no-such-group-ham' },
        c: { command: ['true'], groups: ['no-such-group-ham'] },
        d: { command: ['true'], envFile: [at('missing.env'), at('bad.env')] },
        e: { command: ['true'], limits: { nofile: 10 ** 12, nproc: { soft: 20, hard: 10 }, files: 3 } },
        f: { command: ['true'], oomScoreAdj: 2000, nice: -21, umask: 27 },
        g: { command: ['true'], oomScoreAdj: -5 },
      },
    });
    const byPath = Object.fromEntries(issues.map((i) => [i.path, `${i.expected}${i.got ? ` / ${i.got}` : ''}`]));
    expect(byPath['entities.a.user']).toMatch(/expected a user that exists.*no-such-user-ham/);
    expect(byPath['entities.b.user']).toMatch(/group that exists.*no-such-group-ham/);
    expect(byPath['entities.c.groups[0]']).toMatch(/group that exists.*no-such-group-ham/);
    expect(byPath['entities.d.envFile[0]']).toMatch(/missing\.env: expected a readable env file \/ ENOENT/);
    expect(byPath['entities.d.envFile[1]']).toMatch(/bad\.env:2: expected KEY=VALUE/);
    expect(byPath['entities.e.limits.nofile']).toMatch(/nr_open|the HAM's hard limit/); // the latter without CAP_SYS_RESOURCE
    expect(byPath['entities.e.limits.nproc']).toMatch(/soft ≤ hard/);
    expect(byPath['entities.e.limits.files']).toMatch(/expected a limit among/);
    expect(byPath['entities.f.oomScoreAdj']).toBeDefined();
    expect(byPath['entities.f.nice']).toBeDefined();
    expect(byPath['entities.f.umask']).toMatch(/quoted octal/);
    // Below the HAM's own oom_score_adj takes CAP_SYS_RESOURCE, which a root in a container may lack.
    const sysResource = ((BigInt(`0x${procField(process.pid, 'CapEff')}`) >> 24n) & 1n) === 1n;
    if (sysResource) expect(byPath['entities.g.oomScoreAdj']).toBeUndefined();
    else expect(byPath['entities.g.oomScoreAdj']).toMatch(/with CAP_SYS_RESOURCE to lower oomScoreAdj .* \/ this HAM runs as root without CAP_SYS_RESOURCE/);
    expect((await status(t.home)).entities).toEqual([]);
  });

  it('a HAM that is not root refuses another user, naming why (the check run as nobody)', () => {
    const dist = join(import.meta.dirname, '..', '..', 'dist', 'src', 'ham', 'runas-schema.js');
    const js = `import(${JSON.stringify(dist)}).then((m) => console.log(JSON.stringify(m.checkRunAs({ user: 'root', nice: -5 }, ['entities', 'x'], '/').issues)))`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', js], { encoding: 'utf8', cwd: '/' });
    const issues = JSON.parse(out) as Issue[];
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: 'entities.x.user', expected: 'expected a HAM running as root to run as another user (root)', got: 'this HAM runs as uid 65534' },
        expect.objectContaining({ path: 'entities.x.nice', got: 'this HAM runs as uid 65534' }),
      ]),
    );
  });
});
