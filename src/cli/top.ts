// `ham top`: the live view in a terminal. The status and the event stream
// come through the client library (it reconnects by itself across a
// takeover and resumes the stream after the last event seen); usage comes
// from /proc here (usage.ts). Each event redraws at once, and the screen is
// redrawn every second for uptime and CPU %. The alternate screen is left,
// the cursor shown and the tty made cooked again on every way out.
import type { Command } from 'commander';
import { HamClient, type Subscription } from '../client/client.js';
import { eventsAll, statusAll } from '../client/pages.js';
import { homePaths, resolveHome } from '../model/home-paths.js';
import { HamError } from '../model/errors.js';
import type { EventView, StatusView } from '../protocol/views.js';
import { globals, open, type Globals } from './call.js';
import { formatEvent } from './format.js';
import { emit, fail } from './output.js';
import { renderFrame, SORT_KEYS, type SortKey, type TopModel, type TopRow } from './top-frame.js';
import { cpuPercent, sample, usageOf, type Sample } from './usage.js';

const EVENTS_KEPT = 200;
const REDRAW_MS = 1000;
/** CPU % is measured over at least this long (an event's redraw may come a few ms after the last). */
const CPU_WINDOW_MS = 900;

const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';

const clock = (): string => new Date().toISOString().slice(11, 19);
const eventLine = (e: EventView): string => formatEvent(e); // escaped by renderFrame

/** Rows from a status and two samples (CPU % between them). */
function rowsOf(s: StatusView, now: Sample, before: Sample | undefined): TopRow[] {
  return s.entities.map((e) => ({ entity: e, usage: usageOf(e, now), cpuPercent: cpuPercent(e.pid, before, now) }));
}

/** `--once` (or stdout not a terminal): one screen, all of it, CPU % over half a second. */
async function once(g: Globals): Promise<void> {
  const home = resolveHome(g.home);
  const c = await open(g);
  let s: StatusView;
  const events: EventView[] = [];
  try {
    s = await statusAll(c);
    await eventsAll(c, { since: Math.max(0, s.lastSeq - 10), limit: 10 }, (page) => events.push(...page));
  } catch (e) {
    fail(g, e);
  } finally {
    c.close();
  }
  const before = sample(s.entities);
  await new Promise((r) => setTimeout(r, 500));
  const rows = rowsOf(s, sample(s.entities), before);
  if (g.json)
    return emit(
      g,
      { ham: s.ham, guardian: s.guardian, entities: rows.map((r) => ({ ...r.entity, ...r.usage, cpuPercent: r.cpuPercent ?? null })), events },
      () => '',
    );
  const frame = renderFrame({ home, status: s, rows, events: events.map(eventLine), sort: 'name', time: clock() }, Infinity, Infinity);
  process.stdout.write(`${frame.lines.join('\n')}\n`);
}

async function live(g: Globals): Promise<void> {
  const home = resolveHome(g.home);
  (await open(g)).close(); // not running: said now, not retried forever
  const client = new HamClient(homePaths(home).socket);
  const out = process.stdout;
  const stdin = process.stdin;
  const model: TopModel = { home, status: undefined, rows: [], events: [], sort: 'name', time: clock(), keys: stdin.isTTY };
  let base: Sample | undefined; // the sample CPU % is measured from
  let cpu = new Map<number, number | undefined>();
  let epoch: number | undefined;
  let inflight = false;
  let again = false;
  let sub: Subscription | undefined;
  let done = false;
  let problem: string | undefined; // the last refresh's failure, shown until one succeeds

  const draw = (): void => {
    if (done) return;
    model.time = clock();
    model.note = client.current() ? problem : 'reconnecting to the HAM…';
    const cols = out.columns || 80;
    const rows = out.rows || 24;
    const frame = cols < 20 || rows < 6 ? { lines: [`window too small (${cols}×${rows})`.slice(0, cols)], heading: -1 } : renderFrame(model, cols, rows);
    const text = frame.lines.map((l, i) => (i === frame.heading ? `\x1b[7m${l}\x1b[0m` : l)).map((l) => `${l}\x1b[K`);
    out.write(`\x1b[H${text.join('\r\n')}\x1b[J`);
  };

  // One status at a time. An event during one asks for another, after a gap as long as the last took
  // (at most a second): a home of 10,000 entities is not polled flat out while events pour in.
  const refresh = async (fromEvent = false): Promise<void> => {
    if (inflight) {
      if (fromEvent) again = true;
      return;
    }
    inflight = true;
    const began = Date.now();
    try {
      const s = await client.status();
      if (epoch !== undefined && s.ham.epoch !== epoch) pushEvent(`— takeover: HAM pid ${s.ham.pid ?? '-'}, epoch ${s.ham.epoch} —`);
      epoch = s.ham.epoch;
      const now = sample(s.entities);
      if (!base || now.atMs - base.atMs >= CPU_WINDOW_MS) {
        cpu = new Map(); // only the pids of now: restarts do not pile up old ones
        for (const e of s.entities) if (e.pid !== null) cpu.set(e.pid, cpuPercent(e.pid, base, now));
        base = now;
      }
      model.status = s;
      model.rows = s.entities.map((e) => ({ entity: e, usage: usageOf(e, now), cpuPercent: e.pid === null ? undefined : cpu.get(e.pid) }));
      problem = undefined;
    } catch (e) {
      problem = `error: ${HamError.from(e).message}`;
    } finally {
      inflight = false;
    }
    draw();
    if (again) {
      again = false;
      setTimeout(() => void refresh(true), Math.min(REDRAW_MS, Math.max(20, Date.now() - began)));
    }
  };

  const pushEvent = (line: string): void => {
    model.events.push(line);
    if (model.events.length > EVENTS_KEPT) model.events.splice(0, model.events.length - EVENTS_KEPT);
  };

  const quit = (code: number): void => {
    if (done) return;
    done = true;
    restore();
    sub?.close();
    client.close();
    process.exit(code);
  };
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (stdin.isTTY) stdin.setRawMode(false);
    out.write(LEAVE);
  };

  out.write(ENTER);
  process.on('exit', restore);
  process.on('uncaughtException', (e) => {
    restore();
    fail(g, e);
  });
  for (const [sig, n] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
    ['SIGHUP', 1],
  ] as const)
    process.on(sig, () => quit(128 + n));
  out.on('resize', draw);
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.on('data', (buf: Buffer) => {
      for (const ch of buf.toString('latin1')) {
        if (ch === 'q' || ch === 'Q' || ch === '\x03' || ch === '\x04') return quit(0);
        const key: SortKey | undefined = SORT_KEYS[ch];
        if (key) {
          model.sort = key;
          draw();
        }
      }
    });
  }
  draw();
  try {
    await follow();
  } catch (e) {
    restore(); // the error is said on the normal screen
    throw e;
  }

  async function follow(): Promise<void> {
    const first = await client.status();
    epoch = first.ham.epoch;
    const history: EventView[] = [];
    await client.events({ since: Math.max(0, first.lastSeq - 50), limit: 50 }).then((evs) => history.push(...evs));
    for (const e of history) pushEvent(eventLine(e));
    sub = await client.subscribe(
      {},
      (e) => {
        pushEvent(eventLine(e));
        draw();
        void refresh(true);
      },
      history.at(-1)?.seq ?? first.lastSeq,
    );
    await refresh();
    setInterval(() => void refresh(), REDRAW_MS);
    setInterval(draw, REDRAW_MS).unref();
  }
}

export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description('a live view in the terminal: entities (state, uptime, restarts, CPU %, RSS, readiness) and the latest events; q quits')
    .option('--once', 'print one screen and exit (so does a stdout that is not a terminal); with --json, the same as data')
    .action(async (o: { once?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (o.once || g.json || !process.stdout.isTTY) return once(g);
      return live(g);
    });
}
