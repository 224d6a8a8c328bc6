// Review M4 (regression): the notify socket of an entity run as another user. It was an abstract name,
// listed in /proc/net/unix for every local user, who could bind it while the keeper was replaced and take
// the entity's readiness. Now it is /run/ham-notify/HASH/ID (root's folders, 0711), the socket the
// entity user's with mode 0600: another local user can neither bind its name nor send to it, and the
// adopting keeper binds the same path again.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keeperProcesses } from '../../src/proc/keepers.js';
import { otherNotifyDir } from '../../src/keeper/notify-dir.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, daemons, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  const home = t.home;
  t.cleanup(ctx);
  rmSync(otherNotifyDir(home), { recursive: true, force: true }); // the home's folder under /run/ham-notify (notify-dir.ts)
});

function environ(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

describe('notify socket of an entity run as another user', () => {
  it.skipIf(process.getuid?.() !== 0)(
    'is no abstract name; another local user cannot bind or send to it while the keeper is replaced; readiness is heard again',
    async () => {
      await hamJson(t.home, ['start', ...CALM]);
      await applyConfig(t.home, {
        entities: {
          told: {
            command: ['sh', '-c', `systemd-notify --ready; exec perl -e "sleep 1000" ${t.home}/told`],
            cwd: '/',
            user: 'nobody',
            readiness: { notify: true, timeoutMs: 120_000 },
            conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
          },
        },
      });
      const s = await waitStatus(t.home, 'told ready', (x) => entity(x, 'told').ready, 120_000);
      const sock = environ(entity(s, 'told').pid!)
        .find((v) => v.startsWith('NOTIFY_SOCKET='))!
        .slice('NOTIFY_SOCKET='.length);
      expect(sock).toMatch(/^\/run\/ham-notify\/[0-9a-f]{16}\/\d+$/);
      // What any user sees: the bound names. None abstract of ours.
      const names = readFileSync('/proc/net/unix', 'latin1')
        .split('\n')
        .map((l) => l.split(' ').pop() ?? '');
      expect(names.filter((n) => n.startsWith('@ham-notify'))).toEqual([]);
      expect(names).toContain(sock);
      const pair = daemons(t.home);
      for (const p of pair) process.kill(p, 'SIGSTOP');
      const keeper = keeperProcesses().find((k) => k.argv.some((a) => a.includes(t.home)))!;
      let file = '';
      try {
        process.kill(keeper.pid, 'SIGKILL');
        await waitFor('keeper gone', () => !keeperProcesses().some((k) => k.pid === keeper.pid));
        // Another user (not the entity's): tries to take the name (unlink, bind), else to send to it.
        const pl = [
          'open(my $o, ">", "/tmp/ham-squat-$$") or die; $o->autoflush(1);',
          'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!;',
          'my $u = unlink($ARGV[0]) ? "unlinked" : "unlink refused"; print $o "$u\\n";',
          'if (bind($s, pack_sockaddr_un($ARGV[0]))) { print $o "bound\\n"; while (recv($s, my $m, 4096, 0)) { print $o "$m\\n" } }',
          'else { print $o "bind refused: $!\\n"; socket(my $c, AF_UNIX, SOCK_DGRAM, 0) or die;',
          '  my $sent = send($c, "READY=1", 0, pack_sockaddr_un($ARGV[0])); print $o ($sent ? "sent" : "send refused: $!"), "\\n"; print $o "done\\n"; }',
        ].join(' ');
        const squatter = spawn('setpriv', ['--reuid=65533', '--regid=65533', '--clear-groups', 'perl', '-MSocket', '-e', pl, sock], {
          stdio: 'ignore',
          cwd: '/',
        });
        file = `/tmp/ham-squat-${squatter.pid}`;
        await waitFor('squatter done', () => existsSync(file) && readFileSync(file, 'utf8').includes('done'), 30_000);
        const said = readFileSync(file, 'utf8');
        expect(said).toContain('unlink refused');
        expect(said).toContain('bind refused');
        expect(said).toContain('send refused');
        expect(statSync(sock).isSocket()).toBe(true);
        expect([statSync(dirname(sock)).uid, statSync(dirname(sock)).mode & 0o7777]).toEqual([0, 0o711]);
      } finally {
        for (const p of pair) process.kill(p, 'SIGCONT');
        if (file) rmSync(file, { force: true });
      }
      await waitFor('an adopting keeper', () => keeperProcesses().some((k) => k.argv.some((a) => a.includes(t.home)) && k.pid !== keeper.pid), 30_000);
      process.kill(entity(s, 'told').pid!, 'SIGKILL'); // restarted by its (adopting) keeper: a new instance that must tell it is ready
      const again = await waitStatus(
        t.home,
        'told restarted and ready again',
        (x) => entity(x, 'told').pid !== null && entity(x, 'told').pid !== entity(s, 'told').pid && entity(x, 'told').ready,
        60_000,
      );
      // The same path, bound again by the adopting keeper, the entity user's, 0600.
      const st = statSync(sock);
      expect([st.isSocket(), st.uid, st.mode & 0o777]).toEqual([true, 65534, 0o600]);
      // Detached (removed): its socket goes with it; the process left running is ours to end.
      await hamJson(t.home, ['detach', 'told']);
      try {
        await waitFor('its socket removed', () => !existsSync(sock));
      } finally {
        process.kill(entity(again, 'told').pid!, 'SIGKILL');
      }
    },
    180_000,
  );
});
