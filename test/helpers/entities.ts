// Test entities: real processes, countable by a marker argument.
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
