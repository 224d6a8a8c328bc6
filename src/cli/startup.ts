// `ham startup`: a systemd unit that runs the pair on this home at boot.
import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { HamError } from '../model/errors.js';
import { resolveHome } from '../model/home-paths.js';
import { globals } from './call.js';
import { emit, fail } from './output.js';

export interface UnitOptions {
  home: string;
  /** node, then the CLI's entry point: absolute paths (systemd has no PATH of ours). */
  node: string;
  cli: string;
  /** A user unit (`systemctl --user`), else a system unit that runs as `user`. */
  userUnit: boolean;
  user: string;
  group?: string | undefined;
}

const UNIT_NAME = /^[A-Za-z0-9:_.@-]{1,200}$/;

/**
 * One word of an Exec line: quoted when it holds anything but plain characters; `%` and `$` are
 * systemd's specifiers and variables, so doubled to stand for themselves.
 */
export function execWord(w: string): string {
  if (w === '' || /[\n\r\0]/.test(w))
    throw new HamError({ code: 'bad-request', message: `a unit cannot hold an empty word or a line break: got ${JSON.stringify(w)}` });
  const lit = w.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(lit) ? lit : `"${lit.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Unquote an Exec line as systemd does for the words execWord makes (tests run the unit's own lines). */
export function execWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line))
    words.push((m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!).replace(/%%/g, '%').replace(/\$\$/g, '$'));
  return words;
}

export function systemdUnit(o: UnitOptions): string {
  const cmd = (verb: string): string => [o.node, o.cli, '--home', o.home, verb].map(execWord).join(' ');
  return [
    `# Written by \`ham startup\`: the HAM pair on ${o.home}.`,
    '[Unit]',
    `Description=ham: the HAM pair on ${o.home.replace(/%/g, '%%')}`,
    'After=network.target',
    '',
    '[Service]',
    // `ham start` returns once the pair is up, detached: the pair heals itself (each watches the other),
    // so systemd runs the start and the stop and does not watch a main process.
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=${cmd('start')}`,
    `ExecStop=${cmd('stop')}`,
    // Keepers and entities live in this unit's cgroup but must outlive the pair (as after `ham stop`):
    // KillMode=process kills only a main process, and a oneshot has none left, so they keep running
    // and the next start re-adopts them. `ham stop --all` stops them.
    'KillMode=process',
    // The unit's cgroup is the pair's to divide (README "cgroups"): entities with `cgroup:` get one each below it.
    'Delegate=yes',
    'TimeoutStartSec=120',
    'TimeoutStopSec=120',
    ...(o.userUnit ? [] : [`User=${o.user}`, ...(o.group ? [`Group=${o.group}`] : [])]),
    '',
    '[Install]',
    `WantedBy=${o.userUnit ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}

/** Where a unit named `name` goes: the user's systemd folder, or the system's. */
export function unitPath(name: string, userUnit: boolean, env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(userUnit ? join(config, 'systemd', 'user') : '/etc/systemd/system', `${name}.service`);
}

export function registerStartupCommand(program: Command): void {
  program
    .command('startup')
    .description('write a systemd unit that starts the pair on this home at boot (stopping it stops the pair; entities keep running)')
    .option('--print', 'print the unit instead of writing it')
    .option('--user', 'a user unit (systemctl --user), not a system unit in /etc/systemd/system')
    .option('--name <name>', 'the unit name (default: ham)', 'ham')
    .action((o: { print?: boolean; user?: boolean; name: string }, cmd: Command) => {
      const g = globals(cmd);
      try {
        if (!UNIT_NAME.test(o.name))
          throw new HamError({ code: 'bad-request', message: `expected a unit name of letters, digits and :_.@- for --name, got ${JSON.stringify(o.name)}` });
        const home = resolveHome(g.home);
        const me = userInfo();
        const unit = systemdUnit({ home, node: process.execPath, cli: realpathSync(process.argv[1]!), userUnit: !!o.user, user: me.username });
        if (o.print) return emit(g, { unit }, () => unit.trimEnd());
        const path = unitPath(o.name, !!o.user);
        write(path, unit);
        const ctl = o.user ? 'systemctl --user' : 'systemctl';
        const next = [`${ctl} daemon-reload`, `${ctl} enable --now ${o.name}`];
        if (o.user) next.push(`loginctl enable-linger ${me.username}   # a user unit starts at boot, not at login`);
        emit(g, { written: path, unit, next }, () => `wrote ${path}\nthen:\n${next.map((l) => `  ${l}`).join('\n')}`);
      } catch (e) {
        fail(g, e);
      }
    });
}

/** Written whole (a temp file renamed), 0644 as systemd's own units. */
function write(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (a system unit needs root: run it with sudo, or use --user)' : '';
    throw new HamError({ code: 'io', message: `could not write the unit ${path}: ${(e as Error).message}${hint}` });
  }
}
