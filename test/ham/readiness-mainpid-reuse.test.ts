// MAINPID= and a reused pid, with real processes: the HAM reads its keeper's
// state only after the main process died and another process got its pid
// (the HAM and its keeper SIGSTOPped meanwhile; the pid taken through
// ns_last_pid). The state names MAINPID's start time: the HAM sees the pid is
// another process now and does not take it for the entity.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import { readReadyState } from '../../src/keeper/ready-state.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, daemons, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

const LAST_PID = '/proc/sys/kernel/ns_last_pid';
const canPlacePids = ((): boolean => {
  try {
    accessSync(LAST_PID, constants.W_OK);
    writeFileSync(LAST_PID, readFileSync(LAST_PID, 'utf8'));
    return true;
  } catch {
    return false; // not root (CAP_CHECKPOINT_RESTORE): no pid can be placed
  }
})();

let t: TestHome;
const ours: number[] = [];
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => {
  for (const pid of ours.splice(0))
    for (const sig of ['SIGCONT', 'SIGKILL'] as const)
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
  t.cleanup(ctx);
});
const at = (f: string): string => join(t.home, f);

/** A process with pid `pid` (free now): ours, or another's that took it first (a reuse all the same). */
async function impostor(pid: number): Promise<number | undefined> {
  for (let i = 0; i < 200; i++) {
    if (startTime(pid) !== undefined) return pid;
    writeFileSync(LAST_PID, String(pid - 1));
    const c = spawn('perl', ['-e', 'sleep 1000', t.home], { stdio: 'ignore' });
    if (c.pid === pid) return (ours.push(pid), pid);
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
  }
  return undefined;
}

it.skipIf(!canPlacePids)('a MAINPID= whose process died and whose pid was reused before the HAM read it is not followed', async () => {
  // The command forks C (auto-reaped once it ends), says READY=1, then MAINPID=C once `go` exists.
  const pl = [
    'use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; my $a = pack_sockaddr_un($ENV{NOTIFY_SOCKET}); $SIG{CHLD} = "IGNORE";',
    'my $c = fork() // die $!; if (!$c) { select(undef, undef, undef, 0.05) until -e "$ARGV[0]/die"; exit 0 }',
    'send($s, "READY=1", 0, $a) or die $!; select(undef, undef, undef, 0.05) until -e "$ARGV[0]/go";',
    'send($s, "MAINPID=$c", 0, $a) or die $!; open(my $f, ">", "$ARGV[0]/main") or die $!; print $f $c; close $f; sleep 1000',
  ].join(' ');
  await applyConfig(t.home, { entities: { fork: { command: ['perl', '-e', pl, t.home], readiness: { notify: true } } } });
  const up = entity(await waitStatus(t.home, 'ready', (s) => entity(s, 'fork').ready && entity(s, 'fork').keeperPid !== null), 'fork');
  const pair = daemons(t.home);
  expect(pair).toHaveLength(2);
  for (const pid of pair) (ours.push(pid), process.kill(pid, 'SIGSTOP'));
  writeFileSync(at('go'), '');
  await waitFor('MAINPID= said', () => existsSync(at('main')) && readFileSync(at('main'), 'utf8').trim());
  const main = Number(readFileSync(at('main'), 'utf8'));
  const keepers = at('run/keepers');
  const said = await waitFor('its keeper has it, with its start time', () =>
    readdirSync(keepers)
      .map((k) => readReadyState(join(keepers, k)))
      .find((s) => s?.mainPid === main && s.mainStart > 0),
  );
  expect(said.mainStart).toBe(startTime(main));
  await waitFor('the poke in the inbox', () => readdirSync(at('run/inbox')).some((f) => f.endsWith('-r')));
  (ours.push(up.keeperPid!), process.kill(up.keeperPid!, 'SIGSTOP')); // it would see C's death and end the entity
  writeFileSync(at('die'), '');
  await waitFor('C gone', () => startTime(main) === undefined);
  const other = await impostor(main);
  expect(other, `pid ${main} taken by another process`).toBe(main);
  for (const pid of pair) process.kill(pid, 'SIGCONT');
  const log = (): string => readFileSync(at('logs/ham.log'), 'utf8');
  await waitFor('the HAM read the state', () => /MAINPID= not followed|main pid changed \(MAINPID=\)/.test(log()), 30_000);
  expect(log()).toContain('MAINPID= not followed: that pid is another process now (reused)');
  const s = entity(await status(t.home), 'fork');
  expect(s.pid).toBe(up.pid);
  expect(log()).not.toContain('main pid changed (MAINPID=)');
  process.kill(up.keeperPid!, 'SIGCONT');
});
