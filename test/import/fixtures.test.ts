// Real files of each format (Debian's units from /lib/systemd/system, the
// examples of supervisor's and PM2's documentation, as they appear there)
// imported in-process: the YAML printed must be a valid apply file as is
// (the apply schema and planner judge it), and what each maps to is checked.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { planApply } from '../../src/ham/apply-plan.js';
import { importPm2, importSupervisord, importSystemd, toYaml, type Imported } from '../../src/import/index.js';
import { emptyWorld } from '../helpers/entities.js';

const F = join(import.meta.dirname, '..', 'fixtures', 'import');
const f = (name: string) => join(F, name);

type Entities = Record<string, Record<string, unknown>>;

/** The printed YAML, parsed, and planned against an empty HAM: its entities. */
async function valid(im: Imported): Promise<Entities> {
  const yaml = toYaml(im);
  const config = parse(yaml) as { entities: Entities };
  const r = await planApply(config, emptyWorld());
  // `readiness: { notify: true }` is emitted for Type=notify; until the keeper speaks sd_notify it is the one refusal.
  const issues = r.ok ? [] : r.issues.filter((i) => !(/\.readiness\.notify$/.test(i.path) && /not supported yet/.test(i.expected ?? '')));
  expect(issues).toEqual([]);
  return config.entities;
}

const note = (im: Imported, name: string) => im.entities.find((e) => e.name === name)!.notes.join('\n');

describe('ham import systemd', () => {
  it("Debian's dbus, avahi-daemon, systemd-journald, getty@, e2scrub_reap and man-db units", async () => {
    const im = importSystemd(
      ['dbus.service', 'avahi-daemon.service', 'systemd-journald.service', 'getty@.service', 'e2scrub_reap.service', 'man-db.service'].map(f),
    );
    const e = await valid(im);
    expect(Object.keys(e)).toEqual(['dbus', 'avahi-daemon', 'systemd-journald', 'getty@', 'e2scrub_reap', 'man-db']);
    expect(e.dbus!.command).toEqual([
      '/usr/bin/dbus-daemon',
      '--system',
      '--address=systemd:',
      '--nofork',
      '--nopidfile',
      '--systemd-activation',
      '--syslog-only',
    ]);
    expect(e.dbus!.readiness).toEqual({ notify: true });
    expect(e.dbus!.conditions).toBeUndefined(); // Restart= not set: no restarts, as systemd
    expect(note(im, 'dbus')).toContain('not carried over: OOMScoreAdjust=-900');
    expect(note(im, 'dbus')).toContain('not carried over: Requires=dbus.socket (not among the units imported)');
    expect(e['systemd-journald']!.conditions).toEqual({ died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } });
    expect(e['systemd-journald']!.restart).toEqual({
      backoff: { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 0 },
      intensity: { max: 5, withinMs: 10_000 },
    });
    expect(e['getty@']!.command).toEqual(['/sbin/agetty', '-o', '-p -- \\u', '--noclear', '-']); // '-' prefix dropped, $TERM unset
    expect(note(im, 'getty@')).toContain('$TERM is not set');
    expect(e.e2scrub_reap!).toMatchObject({ command: ['/sbin/e2scrub_all', '-A', '-r'], env: { SERVICE_MODE: '1' }, cwd: '/' });
    expect(note(im, 'e2scrub_reap')).toContain('not carried over: User=root (ham has no user yet)');
    expect(note(im, 'e2scrub_reap')).toContain('Type=oneshot');
    expect(e['man-db']!.command).toEqual(['/usr/bin/install', '-d', '-o', 'man', '-g', 'man', '-m', '0755', '/var/cache/man']);
    expect(note(im, 'man-db')).toContain('not carried over: ExecStart=/usr/bin/mandb --quiet');
    expect(note(im, 'man-db')).toContain('prefix +');
  });

  it('an instance of a template unit is read from the template, its specifiers resolved', async () => {
    const im = importSystemd([f('getty@tty1.service')]);
    const e = await valid(im);
    expect(Object.keys(e)).toEqual(['getty@tty1']);
    expect(note(im, 'getty@tty1')).toContain('TTYPath=/dev/%I'); // a note keeps the text as written
    expect(im.source).toContain('getty@.service');
  });

  it('a pair of units: quoting, Environment=, Restart=, RestartSec=, start limits, the stop, and Requires= between them', async () => {
    const im = importSystemd([f('web.service'), f('db.service')]);
    const e = await valid(im);
    expect(e.web).toEqual({
      command: ['/usr/bin/env', 'web', '--port', '8080', '--verbose', '--color', 'one arg', 'web.service'],
      env: { PORT: '8080', GREETING: 'hello world', ARGS: '--verbose --color' },
      cwd: '/srv/web',
      conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
      restart: { backoff: { initialMs: 2000, factor: 1, maxMs: 2000, resetAfterMs: 0 }, intensity: { max: 3, withinMs: 60_000 } },
      stop: { signal: 'SIGINT', timeoutMs: 90_000 },
      requires: ['db'],
    });
    expect(note(im, 'web')).toContain('not carried over: LimitNOFILE=65536');
    expect(note(im, 'web')).toContain('not carried over: User=www-data (ham has no user yet)');
    expect(e.db!.command).toEqual(['/usr/sbin/exampledb', '--data', '/var/lib/exampledb']);
  });
});

describe('ham import supervisord', () => {
  it("the examples of supervisor's documentation: numprocs, expansions, environment=, groups, priorities", async () => {
    const im = importSupervisord(f('supervisord-docs.conf'));
    const e = await valid(im);
    expect(Object.keys(e)).toEqual(['bar_8100', 'bar_8101', 'cat', 'baz']); // priority 10 first, then the file's order
    expect(e.cat).toMatchObject({ command: ['/bin/cat'], cwd: '/tmp', env: { A: '1', B: '2' }, stop: { signal: 'SIGTERM', timeoutMs: 10_000 } });
    expect(e.cat!.restart).toEqual({ backoff: { initialMs: 0, factor: 2, maxMs: 3000, resetAfterMs: 10_000 }, intensity: { max: 3, withinMs: 36_000 } });
    expect(note(im, 'cat')).toContain('not carried over: user=chrism (ham has no user yet)');
    expect(note(im, 'cat')).toContain('stdout_logfile=/a/path');
    expect(e.bar_8101!.command).toEqual(['/usr/bin/python3', '-m', 'http.server', '--bind', '127.0.0.1', '8101']);
    expect(e.baz).toMatchObject({ command: ['/bin/sh', '-c', 'exec sleep 1000'], env: { GREETING: 'hello, world', HOME_DIR: F }, group: 'foo' });
    expect(parse(toYaml(im)).groups).toEqual({ foo: { strategy: 'one-for-one' } });
    expect(im.notes.join('\n')).toContain('[eventlistener:theeventlistenername]');
  });

  it('[include]: the files it names, wildcards relative to the including file, sorted', async () => {
    const d = mkdtempSync(join(tmpdir(), 'ham-import-include-'));
    try {
      mkdirSync(join(d, 'conf.d'));
      writeFileSync(join(d, 'main.conf'), '[supervisord]\n[include]\nfiles = conf.d/*.conf extra.ini\n');
      writeFileSync(join(d, 'conf.d', 'b.conf'), '[program:b]\ncommand=/bin/b %(here)s\n');
      writeFileSync(join(d, 'conf.d', 'a.conf'), '[program:a]\ncommand=/bin/a\n');
      writeFileSync(join(d, 'conf.d', 'skip.txt'), '[program:no]\ncommand=/bin/no\n');
      writeFileSync(join(d, 'extra.ini'), '[program:c]\ncommand=/bin/c\n');
      const e = await valid(importSupervisord(join(d, 'main.conf')));
      expect(Object.keys(e)).toEqual(['a', 'b', 'c']);
      expect(e.b!.command).toEqual(['/bin/b', join(d, 'conf.d')]); // %(here)s: the folder of the file that says it
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("Debian's supervisord.conf: no programs, and an [include] whose folder is empty", async () => {
    const im = importSupervisord(f('debian-supervisord.conf'));
    expect(await valid(im)).toEqual({});
    expect(im.notes).toContain('no [program:x] section: nothing to carry over');
  });
});

describe('ham import pm2', () => {
  it("the ecosystem files of PM2's documentation, in JS, JSON and YAML", async () => {
    const simple = await importPm2(f('pm2-simple.config.js'), 'production');
    expect((await valid(simple)).app1).toMatchObject({ command: ['node', f('app.js')], cwd: F, env: { NODE_ENV: 'production' } });
    const init = await valid(await importPm2(f('pm2-init.config.js')));
    expect(Object.keys(init)).toEqual(['index', 'service-worker']); // no name: the script's
    for (const file of ['pm2-process.json', 'pm2-process.yml']) {
      const im = await importPm2(f(file));
      const e = await valid(im);
      expect(Object.keys(e).sort()).toEqual(['api-app-0', 'api-app-1', 'api-app-2', 'api-app-3', file.endsWith('json') ? 'worker-app' : 'worker'].sort());
      expect(e['api-app-2']!.env).toEqual({ NODE_APP_INSTANCE: '2' });
      expect(note(im, 'api-app-0')).toContain('instances=4: 4 entities');
    }
  });

  it('the restart, stop, interpreter and args attributes', async () => {
    const im = await importPm2(f('pm2-options.config.js'), 'production');
    const e = await valid(im);
    expect(e.api).toMatchObject({
      command: ['npm', 'start', '--', '--port', '3000', 'two words'],
      cwd: '/srv/api',
      env: { NODE_ENV: 'production', PORT: '3000' },
      restart: { backoff: { initialMs: 4000, factor: 1, maxMs: 4000, resetAfterMs: 5000 }, intensity: { max: 10, withinMs: 90_000 } },
      stop: { signal: 'SIGINT', timeoutMs: 3000 },
    });
    expect(note(im, 'api')).toContain('wait_ready');
    expect(note(im, 'api')).toContain('max_memory_restart=1G');
    expect(e['py-worker']).toMatchObject({ command: ['python3', '-u', f('worker.py')], restart: { backoff: { initialMs: 100, factor: 1.5, maxMs: 15_000 } } });
    expect(note(im, 'py-worker')).toContain('uid=www-data (ham has no user yet)');
    expect(e.once!.conditions).toBeUndefined(); // autorestart: false
    expect(e.once!.command).toEqual(['bash', f('job.sh')]);
  });
});
