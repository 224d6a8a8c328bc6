// Which process an entity runs now, for `ham stop --all` with no HAM. The
// store's pid is the last one a HAM applied: a keeper whose standing order
// restarted the command after the pair died wrote its new pid only in the
// inbox (P, S records not applied yet). Those records come first; a pid taken
// from them counts only if it is the keeper's child (not a reuse of the pid).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HomePaths } from '../home.js';
import type { EntityRecord } from '../model/records.js';
import { parseName, readRecordFile, type KeeperRecord } from '../keeper/records.js';
import { isAlive, type ProcId } from '../proc/procfs.js';
import { statIds } from '../proc/stat-ids.js';

/** The process to stop and the group it leads (null: signal the pid alone). */
export interface Current {
  id: ProcId;
  group: number | null;
}

/** After an ordered death (X … o), the keeper's P or F follows at once: waited for this long at most. */
const ORDERED_WAIT_MS = 5000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The unapplied records of this entity's current keeper, oldest first. */
export function newerRecords(paths: HomePaths, e: EntityRecord): KeeperRecord[] {
  const k = e.keeper;
  if (!k) return [];
  let files: string[];
  try {
    files = readdirSync(paths.inbox);
  } catch {
    return [];
  }
  const found: { seq: number; record: KeeperRecord }[] = [];
  for (const f of files) {
    const n = parseName(f);
    if (n === null || n === 'temp' || n.id !== e.id || n.serial !== k.serial || n.seq <= k.lastSeq) continue;
    const r = readRecordFile(join(paths.inbox, f));
    if ('record' in r) found.push({ seq: n.seq, record: r.record });
  }
  return found.sort((a, b) => a.seq - b.seq).map((x) => x.record);
}

/** What the records say: a new pid (P/S), none (its last death, not followed by a start), or nothing new. */
function fold(records: KeeperRecord[]): { pid: number } | { dead: true; ordered: boolean } | null {
  let out: { pid: number } | { dead: true; ordered: boolean } | null = null;
  for (const r of records) {
    if (r.kind === 'P' || r.kind === 'S') out = { pid: r.pid };
    else if (r.kind === 'X') out = { dead: true, ordered: r.ordered === true };
    else if (r.kind === 'F') out = { dead: true, ordered: false };
  }
  return out;
}

/** The live process of `e` now (after its keeper's order was revoked), or null if none runs. */
export async function currentProcess(paths: HomePaths, e: EntityRecord): Promise<Current | null> {
  const deadline = Date.now() + ORDERED_WAIT_MS;
  let news = fold(newerRecords(paths, e));
  while (news && 'dead' in news && news.ordered && Date.now() < deadline && isAlive(e.keeper)) {
    await sleep(20);
    news = fold(newerRecords(paths, e));
  }
  if (news && 'pid' in news) {
    const s = statIds(news.pid);
    // The keeper forked it (P) into a group of its own; anything else is another process with that pid.
    if (!s || !e.keeper || s.ppid !== e.keeper.pid || !isAlive(e.keeper)) return null;
    return { id: { pid: news.pid, start: s.start }, group: e.kind === 'spawned' && s.pgrp === news.pid ? news.pid : null };
  }
  if (news) return null; // died since the store's record
  if (e.pid === null || e.pidStart === null) return null;
  const id = { pid: e.pid, start: e.pidStart };
  const s = statIds(id.pid);
  if (!s || s.start !== id.start) return null;
  if (e.kind !== 'spawned') return { id, group: null };
  const group = e.mainGroup?.instance === e.instance ? e.mainGroup.pgid : e.pid;
  // The group is the entity's only while its live main process is in it (a pgid is reused once its group is gone).
  return { id, group: s.pgrp === group ? group : null };
}

/** Signal the group (checked in currentProcess) and the process itself (by pid and start time). */
export function signalCurrent(c: Current, sig: NodeJS.Signals): void {
  if (c.group !== null && isAlive(c.id))
    try {
      process.kill(-c.group, sig);
    } catch {
      /* gone */
    }
  if (statIds(c.id.pid)?.start === c.id.start)
    try {
      process.kill(c.id.pid, sig);
    } catch {
      /* gone */
    }
}
