// `ham apply -f FILE --wait`: the apply, then a wait until what it started
// (its new entities with a command or a pid) is ready, failed or timed out.
// It follows the event log from a sequence number taken before the apply (no
// transition missed) and asks for each entity's status as events about it
// come (and every second); ready-wait.ts judges. A takeover during the wait
// closes the connection: it connects again and resumes from the last event
// seen, as `ham events --follow` does.
import { connect, type Connection } from '../client/connection.js';
import { HamError } from '../model/errors.js';
import type { Issue } from '../model/failures.js';
import type { RequestArgs } from '../protocol/requests.js';
import type { Reply } from '../protocol/responses.js';
import { ReadyWait, type WaitResult } from './ready-wait.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 1000;

export interface ApplyWaited {
  reply: Reply<'apply'>;
  results: WaitResult[];
  /** The one error for every entity not ready (undefined: all are). */
  error?: HamError;
}

/** Apply on `c` (which it closes), then wait up to `timeoutMs` for what the apply started. */
export async function applyAndWait(home: string, c: Connection, args: Partial<RequestArgs<'apply'>>, timeoutMs: number): Promise<ApplyWaited> {
  let first: Connection | undefined = c;
  try {
    const since = (await c.request('status', { limit: 1 })).lastSeq;
    const reply = await c.request('apply', args); // as a plain apply: the same deadline
    const targets = await started(c, reply);
    const wait = new ReadyWait(targets, since);
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    while (!wait.done() && Date.now() < deadline) {
      const conn = first ?? (await connect({ home }).catch((e: unknown) => final(e)));
      first = undefined;
      if (conn) await session(conn, wait, deadline).catch((e: unknown) => final(e));
      conn?.close();
      if (!wait.done() && Date.now() < deadline) await sleep(100);
    }
    const results = wait.results(timeoutMs);
    return { reply, results, ...(results.every((r) => r.result === 'ready') ? {} : { error: notReady(results, timeoutMs) }) };
  } finally {
    first?.close();
  }
}

/** Denied or refused is final; anything else (no HAM for now, a takeover) is tried again. */
function final(e: unknown): undefined {
  const err = HamError.from(e);
  if (err.code === 'permission-denied' || err.code === 'refused') throw err;
  return undefined;
}

/** The entities the apply started: created, with a command or a pid (a placeholder waits for its process). */
async function started(c: Connection, reply: Reply<'apply'>): Promise<string[]> {
  if (reply.dryRun) return [];
  const out: string[] = [];
  for (const ch of reply.changes) {
    if (ch.change !== 'created' || ch.entity === '*') continue;
    const v = (await c.request('status', { name: ch.entity })).entities.find((e) => e.name === ch.entity);
    if (v && (v.kind === 'spawned' || v.kind === 'pid') && v.enabled) out.push(ch.entity);
  }
  return out;
}

/** One connection's share of the wait: until all are decided, the deadline, or the connection ends. */
function session(c: Connection, wait: ReadyWait, deadline: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    let polling = false;
    let again = false;
    const finish = (e?: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearInterval(tick);
      if (e === undefined) resolve();
      else reject(e);
    };
    const poll = async (): Promise<void> => {
      if (polling) {
        again = true;
        return;
      }
      polling = true;
      try {
        do {
          again = false;
          for (const name of wait.undecided()) {
            if (finished) return;
            try {
              const page = await c.request('status', { name });
              wait.snapshot(
                name,
                page.entities.find((e) => e.name === name),
                page.lastSeq,
                Date.now(),
              );
            } catch (e) {
              if (HamError.from(e).code !== 'unknown-entity') throw e;
              wait.snapshot(name, undefined, wait.seen, Date.now());
            }
          }
        } while (again && !finished);
        if (wait.done()) finish();
      } catch (e) {
        finish(e);
      } finally {
        polling = false;
      }
    };
    const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
    const tick = setInterval(() => void poll(), POLL_MS);
    c.onClose(() => finish(new HamError({ code: 'not-running', message: 'the HAM closed the connection' })));
    c.subscribe(
      { since: wait.seen },
      (e) => {
        const about = wait.undecided().includes(e.entity);
        wait.event(e);
        if (wait.done()) finish();
        else if (about) void poll();
      },
      (e) => finish(e),
    ).then(
      () => poll(),
      (e: unknown) => finish(e),
    );
  });
}

/** The one error shape: each entity not ready, as an issue at its path in the file. */
function notReady(results: WaitResult[], timeoutMs: number): HamError {
  const bad = results.filter((r) => r.result !== 'ready');
  const issues: Issue[] = bad.map((r) => ({
    path: `entities.${r.entity}`,
    expected: `ready within ${timeoutMs} ms`,
    got: `${r.reason}`,
  }));
  const what = bad.map((r) => `${r.entity}: ${r.reason}`).join('; ');
  return new HamError({
    code: 'not-ready',
    message: `${bad.length} of ${results.length} ${results.length === 1 ? 'entity' : 'entities'} not ready: ${what}`,
    ...(bad.length === 1 ? { entity: bad[0]!.entity } : {}),
    issues,
  });
}
