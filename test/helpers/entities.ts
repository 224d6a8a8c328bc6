// Test entities: real processes, countable by a marker argument.
import { existsSync } from 'node:fs';
import type { World } from '../../src/ham/apply-plan.js';
import type { StatusView } from '../../src/protocol/views.js';

/** Sleeps until SIGUSR1, then exits with `code`; any signal kills it as usual. It says when its handler is in
 * place (`MARKER.armed.PID`): a SIGUSR1 before that kills it by the signal instead (seen in CI on a loaded machine). */
export function exiter(marker: string, code: number): string[] {
  return ['perl', '-e', `$SIG{USR1} = sub { exit ${code} }; open(my $f, '>', "$ARGV[0].armed.$$") && close $f; sleep 100000 while 1`, marker];
}

/** SIGUSR1 to the exiter `pid` once its handler is in place, so that it exits with its code. */
export async function exitNow(marker: string, pid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(`${marker}.armed.${pid}`)) {
    if (Date.now() > deadline) throw new Error(`exiter ${pid} (${marker}) never installed its SIGUSR1 handler`);
    await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(pid, 'SIGUSR1');
}

export function entity(s: StatusView, name: string) {
  const e = s.entities.find((x) => x.name === name);
  if (!e) throw new Error(`no entity ${name} in status`);
  return e;
}

/** Every daemon pid the status names is alive and distinct. */
export function pairOf(s: StatusView): { ham: number; guardian: number } | undefined {
  if (s.ham.pid === null || s.guardian.pid === null || s.ham.pid === s.guardian.pid) return undefined;
  return { ham: s.ham.pid, guardian: s.guardian.pid };
}

/** An empty world for `planApply` (nothing exists yet; every command is found): the apply schema's unit tests. */
export function emptyWorld(over: Partial<World> = {}): World {
  return {
    cwd: '/srv',
    home: '/var/lib/ham',
    baseEnv: { PATH: '/usr/bin:/bin' },
    groups: {},
    entity: () => undefined,
    entities: () => [],
    executableProblem: () => undefined,
    pidRunning: () => false,
    tick: () => undefined,
    ...over,
  };
}
