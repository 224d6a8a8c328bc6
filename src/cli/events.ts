// ham raise | state | events
import type { Command } from 'commander';
import { connect, type Connection } from '../client/connection.js';
import { resolveHome } from '../model/home-paths.js';
import { eventsAll } from '../client/pages.js';
import { HamError } from '../model/errors.js';
import { call, globals, integer, notRunning, open, positiveInt, type Globals } from './call.js';
import { escapeText, jsonSafe } from './escape.js';
import { formatEvent } from './format.js';
import { emit, fail } from './output.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Print events from `since` on, forever; survives takeovers by resuming from the last one printed. */
async function follow(g: Globals, since: number | undefined, filter: { entity?: string; condition?: string }): Promise<never> {
  const home = resolveHome(g.home);
  let last = since;
  for (let failures = 0; ;) {
    let c: Connection | undefined;
    try {
      c = await connect({ home });
      const closed = new Promise<void>((r) => c!.onClose(r));
      await c.subscribe({ ...(last !== undefined ? { since: last } : {}), ...filter }, (e) => {
        if (last !== undefined && e.seq <= last) return;
        last = e.seq;
        process.stdout.write(`${g.json ? jsonSafe(JSON.stringify(e)) : escapeText(formatEvent(e))}\n`);
      });
      failures = 0;
      await closed;
    } catch (e) {
      // Denied or refused is final; ~20 s without a HAM: give up.
      if ((e instanceof HamError && (e.code === 'permission-denied' || e.code === 'refused')) || ++failures > 200) fail(g, notRunning(home, e));
    } finally {
      c?.close();
    }
    await sleep(100);
  }
}

export function registerEventCommands(program: Command): void {
  program
    .command('raise')
    .description('raise an event on an entity (its raise conditions match type/class/severity)')
    .argument('<entity>')
    .requiredOption('--type <type>', 'what happened')
    .option('--class <class>', 'a class for matching')
    .option('--severity <n>', 'a severity for matching', integer('--severity'))
    .action(async (entity: string, o: { type: string; class?: string; severity?: number }, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'raise', {
        entity,
        type: o.type,
        ...(o.class ? { class: o.class } : {}),
        ...(o.severity !== undefined ? { severity: o.severity } : {}),
      });
      emit(g, r, () => `raised ${o.type} on ${entity}: event #${r.seq}`);
    });

  program
    .command('state')
    .description('report a new state for an entity (its state conditions match from/to)')
    .argument('<entity>')
    .argument('<state>')
    .action(async (entity: string, state: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'state', { entity, state });
      emit(g, r, () => `${entity} is now ${state}: event #${r.seq}`);
    });

  program
    .command('events')
    .description('the event log (every fired condition), oldest first')
    .option('--since <seq>', 'only events after this sequence number', integer('--since', 0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'at most this many events (default 1000, at most 10000)', positiveInt('--limit'))
    .option('--follow', 'keep printing new events (across takeovers)')
    .option('--entity <name>', 'only this entity')
    .option('--condition <type>', 'only this condition type')
    .action(async (o: { since?: number; limit?: number; follow?: boolean; entity?: string; condition?: string }, cmd: Command) => {
      const g = globals(cmd);
      const filter = { ...(o.entity ? { entity: o.entity } : {}), ...(o.condition ? { condition: o.condition } : {}) };
      if (o.follow) return follow(g, o.since ?? 0, filter);
      if (o.limit !== undefined && o.limit > 10_000) fail(g, new HamError({ code: 'bad-request', message: `--limit: expected at most 10000, got ${o.limit}` }));
      const c = await open(g);
      // Printed page by page as they come (the HAM sends a large answer in pages).
      let printed = 0;
      try {
        await eventsAll(c, { since: o.since ?? 0, ...(o.limit !== undefined ? { limit: o.limit } : {}), ...filter }, (page) => {
          if (page.length === 0) return;
          process.stdout.write(`${page.map((e) => (g.json ? jsonSafe(JSON.stringify(e)) : formatEvent(e))).join('\n')}\n`);
          printed += page.length;
        });
      } catch (e) {
        fail(g, e);
      } finally {
        c.close();
      }
      if (printed === 0 && !g.json) process.stdout.write('no events\n');
    });
}
