// Test entities: real processes, countable by a marker argument.
import type { World } from '../../src/ham/apply-plan.js';
import type { StatusView } from '../../src/protocol/views.js';

/** Sleeps until SIGUSR1, then exits with `code`; any signal kills it as usual. */
export function exiter(marker: string, code: number): string[] {
  return ['perl', '-e', `$SIG{USR1} = sub { exit ${code} }; sleep 100000 while 1`, marker];
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
