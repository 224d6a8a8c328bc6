// `ham import` end to end: the files the peers harness writes for PM2 and
// supervisord (/work/shared/peers/lib.sh, sup_setup) and a pair of systemd
// units, imported by the real CLI, applied as printed to a real pair, started
// in their folders, and restarted when SIGKILLed. Bad input: the one error
// shape naming the file, exit 1.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALM, ham, hamJson, procsWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import type { StatusView } from '../../src/protocol/views.js';

let t: TestHome;
let D: string;
let SVC: string;
const MARKER = `ham-import-test-${process.pid}`;

/** Service folders under D/svc, as the harness's mk_services makes them. */
function services(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const name = `${prefix}${String(i + 1).padStart(3, '0')}`;
    mkdirSync(join(D, 'svc', name), { recursive: true });
    return name;
  });
}

/** `ham import ARGS`, its YAML written to a file, then `ham apply -f` of that file as is. */
async function importAndApply(args: string[], out: string): Promise<void> {
  const r = await ham(t.home, ['import', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  writeFileSync(join(D, out), r.stdout);
  await hamJson(t.home, ['apply', '-f', join(D, out)]);
}

const entity = (s: StatusView, name: string) => s.entities.find((e) => e.name === name);
const running = (s: StatusView, names: string[]) => names.every((n) => entity(s, n)?.state === 'running' && !!entity(s, n)?.pid);

/** Every named entity runs, in its own folder (its start.log), and comes back when SIGKILLed. */
async function runsAndRestarts(names: string[]): Promise<void> {
  const s = await waitStatus(t.home, `${names.join(', ')} running`, (x) => running(x, names), 60_000);
  for (const n of names) await waitFor(`${n} started in its folder`, () => existsSync(join(D, 'svc', n, 'start.log')), 30_000);
  const victim = entity(s, names[0]!)!;
  process.kill(victim.pid!, 'SIGKILL');
  await waitStatus(
    t.home,
    `${victim.name} restarted`,
    (x) => {
      const e = entity(x, victim.name);
      return !!e && e.state === 'running' && !!e.pid && e.pid !== victim.pid && e.restarts >= 1;
    },
    60_000,
  );
  expect(
    readFileSync(join(D, 'svc', victim.name, 'start.log'), 'utf8')
      .trim()
      .split('\n').length,
  ).toBeGreaterThanOrEqual(2);
}

beforeAll(async () => {
  t = tempHome();
  D = mkdtempSync(join(tmpdir(), 'ham-import-'));
  SVC = join(D, 'svc.sh');
  // As the harness's svc.sh: note the start in its folder, then become a sleeper (the marker counts it).
  writeFileSync(SVC, `#!/bin/sh\necho "$$" >> start.log\nexec perl -e 'sleep 100000' ${MARKER}\n`);
  chmodSync(SVC, 0o755);
  await hamJson(t.home, ['start', ...CALM]);
}, 60_000);

afterAll(async () => {
  await ham(t.home, ['stop', '--all']);
  t.cleanup();
  for (const pid of procsWith(MARKER)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone already */
    }
  }
  rmSync(D, { recursive: true, force: true });
});

describe('ham import, applied to a real pair', () => {
  it("pm2: the harness's ecosystem.config.js", async () => {
    const names = services('pm', 2);
    const lines = names.map(
      (n) =>
        `  { name: '${n}', script: '${SVC}', interpreter: 'none', exec_mode: 'fork', cwd: '${D}/svc/${n}',\n    autorestart: true, restart_delay: 0, min_uptime: 1000, max_restarts: 16, watch: false },`,
    );
    writeFileSync(join(D, 'ecosystem.config.js'), `module.exports = { apps: [\n${lines.join('\n')}\n] };\n`);
    await importAndApply(['pm2', join(D, 'ecosystem.config.js')], 'pm2.yaml');
    await runsAndRestarts(names);
  }, 180_000);

  it("supervisord: the harness's supervisord.conf", async () => {
    const names = services('sv', 2);
    const head = `[unix_http_server]\nfile=${D}/supervisor.sock\n[supervisord]\nlogfile=${D}/supervisord.log\npidfile=${D}/supervisord.pid\nchildlogdir=${D}/childlogs\nnodaemon=true\nloglevel=info\n[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n[supervisorctl]\nserverurl=unix://${D}/supervisor.sock\n`;
    const programs = names.map(
      (n) => `[program:${n}]\ncommand=${SVC}\ndirectory=${D}/svc/${n}\nautostart=true\nautorestart=true\nstartsecs=0\nstartretries=3\n`,
    );
    writeFileSync(join(D, 'supervisord.conf'), head + programs.join(''));
    await importAndApply(['supervisord', join(D, 'supervisord.conf')], 'supervisord.yaml');
    await runsAndRestarts(names);
  }, 180_000);

  it('systemd: two units, one requiring the other', async () => {
    const [db, web] = services('sd', 2) as [string, string];
    writeFileSync(join(D, `${db}.service`), `[Service]\nExecStart=${SVC}\nWorkingDirectory=${D}/svc/${db}\nRestart=always\nRestartSec=0\n`);
    writeFileSync(
      join(D, `${web}.service`),
      `[Unit]\nRequires=${db}.service\nAfter=${db}.service\n[Service]\nExecStart=${SVC}\nWorkingDirectory=${D}/svc/${web}\nRestart=on-failure\nRestartSec=0\nUser=nobody\n`,
    );
    await importAndApply(['systemd', join(D, `${db}.service`), join(D, `${web}.service`)], 'systemd.yaml');
    expect(readFileSync(join(D, 'systemd.yaml'), 'utf8')).toContain('# not carried over: User=nobody (ham has no user yet)');
    const s = await waitStatus(t.home, 'the units running', (x) => running(x, [db, web]), 60_000);
    expect(entity(s, web)!.requires).toEqual([db]);
    await runsAndRestarts([web, db]);
  }, 180_000);
});

describe('ham import: bad input', () => {
  it('a missing file, a file of another format, a line it cannot read: the file (and line) named, exit 1', async () => {
    const missing = await ham(t.home, ['import', 'systemd', join(D, 'nope.service')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`ham: bad-request: ${join(D, 'nope.service')}: no such file\n`);
    writeFileSync(join(D, 'not-a-unit.service'), '[Unit]\nDescription=x\n');
    const json = await ham(t.home, ['--json', 'import', 'systemd', join(D, 'not-a-unit.service')]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: { code: 'bad-request', message: `${join(D, 'not-a-unit.service')}:1: not a service unit: expected a [Service] section, got [Unit]` },
    });
    writeFileSync(join(D, 'bad.conf'), '[program:x]\ncommand=/bin/sh -c "unclosed\n');
    const bad = await ham(t.home, ['import', 'supervisord', join(D, 'bad.conf')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${join(D, 'bad.conf')}:2: command: no closing quotation`);
    writeFileSync(join(D, 'eco.config.js'), 'module.exports = { apps: [ { name: "x" }\n  oops ] };\n');
    const js = await ham(t.home, ['import', 'pm2', join(D, 'eco.config.js')]);
    expect(js.code).toBe(1);
    expect(js.stderr).toContain(`${join(D, 'eco.config.js')}:2: evaluating it in node failed`);
    const notPm2 = join(D, 'x.json');
    writeFileSync(notPm2, '{"services": []}');
    expect((await ham(t.home, ['import', 'pm2', notPm2])).stderr).toContain(`${notPm2}: not a PM2 ecosystem file: expected { apps: [...] }`);
  });
});
