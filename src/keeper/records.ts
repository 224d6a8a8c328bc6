// What the HAM reads from keepers, strictly: the inbox is ours (0700), but a
// bug, a full disk or a stray process may leave anything there, and nothing
// in it may crash the HAM, block it, or make it act on a record that no
// keeper wrote. A record is one short line (see keeper.pl); a file is read
// only if it is a regular file of at most MAX_RECORD_BYTES, never through a
// symlink, never blocking (a FIFO named like a record is refused unopened).
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

export type KeeperRecord =
  | { kind: 'K'; pid: number }
  | { kind: 'P'; pid: number }
  | { kind: 'S'; pid: number }
  | { kind: 'F'; errno: number }
  /** `ordered`: the keeper restarts it at once by its standing order (P/S or F follow). */
  | { kind: 'X'; pid: number; status: number; ordered?: true };

/** The longest record a keeper writes is ~25 bytes ("X 4194304 65535\n"). */
export const MAX_RECORD_BYTES = 64;
/** Linux's largest pid_max. */
const PID_MAX = 4_194_304;
/**
 * A keeper writes at most K P S X ahead of the last record applied (it waits for the HAM after each death),
 * or, under a standing order (at most ORDER_MAX restarts), X P S for each of them and the X that asks.
 */
export const ORDER_MAX = 6;
export const MAX_AHEAD = 4 + 3 * ORDER_MAX + 4;

const RECORD = /^([KPSFX]) (\d{1,7})(?: (-1|\d{1,5}))?( o)?\n?$/;

/** One record's text, or null if no keeper wrote it. */
export function parseRecord(text: string): KeeperRecord | null {
  const m = RECORD.exec(text);
  if (!m) return null;
  const kind = m[1] as KeeperRecord['kind'];
  const a = Number(m[2]);
  const b = m[3] === undefined ? undefined : Number(m[3]);
  if ((kind === 'X') !== (b !== undefined)) return null;
  if (m[4] && (kind !== 'X' || b! < 0)) return null; // only a known death is restarted by an order
  if (kind === 'F') return a <= 4095 ? { kind, errno: a } : null;
  if (a < 1 || a > PID_MAX) return null;
  if (kind === 'X') return b! <= 0xffff ? { kind, pid: a, status: b!, ...(m[4] ? { ordered: true as const } : {}) } : null;
  return { kind, pid: a };
}

export interface RecordName {
  id: number;
  serial: number;
  seq: number;
}

/** `ID-SERIAL-SEQ` as a keeper names it (no leading zeros, safe integers); `temp` for a keeper's file being written; null: not a record. */
export function parseName(file: string): RecordName | 'temp' | null {
  if (/^\.\d+-\d+-\d+$/.test(file)) return 'temp';
  const m = /^(0|[1-9]\d{0,14})-([1-9]\d{0,14})-([1-9]\d{0,14})$/.exec(file);
  if (!m) return null;
  return { id: Number(m[1]), serial: Number(m[2]), seq: Number(m[3]) };
}

/** Read one record file: the record, `gone` (consumed meanwhile), or why it is not one. */
export function readRecordFile(path: string): { record: KeeperRecord } | { gone: true } | { bad: string } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { gone: true };
    return { bad: code === 'ELOOP' ? 'a symbolic link' : `cannot be opened (${code ?? 'error'})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { bad: st.isDirectory() ? 'a directory' : 'not a regular file' };
    if (st.size > MAX_RECORD_BYTES) return { bad: `${st.size} bytes (a record has at most ${MAX_RECORD_BYTES})` };
    const buf = Buffer.alloc(MAX_RECORD_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_RECORD_BYTES) return { bad: `more than ${MAX_RECORD_BYTES} bytes` };
    const text = buf.toString('latin1', 0, n);
    const record = parseRecord(text);
    return record ? { record } : { bad: `not a keeper record: ${JSON.stringify(text.slice(0, 32))}` };
  } catch (e) {
    return { bad: `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  } finally {
    closeSync(fd);
  }
}

/** Where a keeper stands in the store, as far as its records go. */
export interface KeeperMark {
  serial: number;
  lastSeq: number;
}

export type Judgement = 'apply' | 'later' | { drop: string };

/**
 * What to do with a well-formed record of entity `id` whose current keeper is
 * `k` (undefined: no such entity, or no keeper). Only the next record of the
 * current keeper is applied; one further ahead waits for the records before it
 * (a keeper writes in order), unless it is further than any keeper writes.
 */
export function judge(n: RecordName, k: KeeperMark | null | undefined, known: boolean): Judgement {
  if (!known) return { drop: `no entity with id ${n.id}` };
  if (!k) return { drop: 'its entity has no keeper now' };
  if (k.serial !== n.serial) return { drop: `from keeper ${n.serial}; the entity's keeper is ${k.serial}` };
  if (n.seq <= k.lastSeq) return { drop: `seq ${n.seq} already applied (last ${k.lastSeq})` };
  if (n.seq > k.lastSeq + MAX_AHEAD) return { drop: `seq ${n.seq} is more than ${MAX_AHEAD} ahead of the last applied (${k.lastSeq})` };
  return n.seq === k.lastSeq + 1 ? 'apply' : 'later';
}
