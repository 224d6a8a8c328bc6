// ham stop NAME | start NAME | restart NAME | restart --group G | reload NAME:
// one `control` request, answered at once or (--wait) once it is done.
import type { Command } from 'commander';
import type { Reply } from '../protocol/responses.js';
import { globals, open, type Globals } from './call.js';
import { HamError } from '../model/errors.js';
import { emit, fail } from './output.js';

type Request = 'stop' | 'start' | 'restart' | 'reload';
type Control = Reply<'control'>;

/** A waited request may take its stop timeout and a start's readiness timeout (a rolling restart: each member's). */
const WAIT_MS = 30 * 60_000;

export async function control(g: Globals, request: Request, target: { name: string } | { group: string }, wait: boolean): Promise<void> {
  const c = await open(g);
  let r: Control;
  try {
    r = await c.request('control', { request, ...target, wait }, wait ? WAIT_MS : 10_000);
  } catch (e) {
    fail(g, e);
  } finally {
    c.close();
  }
  emit(g, r, () => describe(r, wait));
}

function describe(r: Control, wait: boolean): string {
  if (r.cluster !== undefined) return r.cluster;
  if (r.group !== undefined) {
    const names = r.entities.map((e) => e.name).join(', ') || 'nothing (no member runs)';
    const skipped = r.skipped.length ? ` (skipped ${r.skipped.map((s) => `${s.name}: ${s.why}`).join(', ')})` : '';
    return `group ${r.group}: ${wait ? 'restarted' : 'restarting, one at a time:'} ${names}${skipped}`;
  }
  const e = r.entities[0]!;
  const pid = e.pid ? `, pid ${e.pid}` : '';
  switch (r.request) {
    case 'stop':
      if (!e.changed) return `${e.name}: already stopped (${e.state})`;
      // --wait: the HAM answers only once nothing runs (else an error): the state says what happened.
      if (e.state === 'stopped') return `${e.name}: stopped; it stays stopped until \`ham start ${e.name}\``;
      return wait ? `${e.name}: not running (${e.state})` : `${e.name}: stopping (${e.stop.signal}, then SIGKILL after ${e.stop.timeoutMs} ms)`;
    case 'start':
      if (!e.changed) return `${e.name}: already ${e.state}${pid}`;
      return wait ? `${e.name}: started${pid}` : `${e.name}: starting`;
    case 'restart':
      return wait ? `${e.name}: restarted${pid}` : `${e.name}: restarting (${e.stop.signal}, then started again)`;
    case 'reload':
      return `${e.name}: ${e.stop.reloadSignal ?? 'SIGHUP'} sent${pid}`;
  }
}

/** A command used wrongly: the one error shape (bad-request), as the HAM's. */
export function usage(g: Globals, message: string): never {
  fail(g, new HamError({ code: 'bad-request', message }));
}

/** `ham restart` and `ham reload` (stop and start by name ride on the pair's commands, in main.ts). */
export function registerByNameCommands(program: Command): void {
  program
    .command('restart')
    .description('restart an entity: its stop signal, its stop timeout, then start it again (a requested restart, not a death)')
    .argument('[name]', 'the entity')
    .option('--group <group>', "a rolling restart of a group's running members: one at a time, each ready before the next")
    .option('--wait', 'return once it runs again (and is ready, where it has readiness)')
    .action(async (name: string | undefined, o: { group?: string; wait?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if ((name === undefined) === (o.group === undefined)) usage(g, 'expected an entity name or --group G (one of them)');
      await control(g, 'restart', o.group !== undefined ? { group: o.group } : { name: name! }, !!o.wait);
    });
  program
    .command('reload')
    .description("send an entity's reloadSignal (default SIGHUP) to its process")
    .argument('<name>', 'the entity')
    .option('--wait', 'return once the reload is done (notify readiness: READY=1 after RELOADING=1; else the signal delivered)')
    .action(async (name: string, o: { wait?: boolean }, cmd: Command) => {
      await control(globals(cmd), 'reload', { name }, !!o.wait);
    });
}
