// Users and groups by name or id, as the system's NSS knows them (getent, id:
// so LDAP or systemd-homed users resolve as they do for login), at `apply` only.
import { execFileSync } from 'node:child_process';

export interface Account {
  name: string;
  id: number;
  /** Users only: the primary group and the home folder. */
  gid?: number;
  home?: string;
}

const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to setuid(2)
const isId = (v: string | number): boolean => (typeof v === 'number' ? Number.isInteger(v) : /^\d{1,10}$/.test(v)) && Number(v) <= MAX_ID;

function getent(db: 'passwd' | 'group', key: string): string[] | undefined {
  try {
    const out = execFileSync('getent', [db, key], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const line = out.split('\n')[0];
    return line ? line.split(':') : undefined;
  } catch {
    return undefined; // exit 2: no such entry
  }
}

/** A user by name or id; a numeric id with no entry is taken as it is (as setuid takes it). */
export function findUser(v: string | number): Account | undefined {
  const f = getent('passwd', String(v));
  if (f && f.length >= 7) return { name: f[0]!, id: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  return isId(v) ? { name: String(v), id: Number(v), home: '/' } : undefined;
}

export function findGroup(v: string | number): Account | undefined {
  const f = getent('group', String(v));
  if (f && f.length >= 3) return { name: f[0]!, id: Number(f[2]) };
  return isId(v) ? { name: String(v), id: Number(v) } : undefined;
}

/** The groups `user` is in (its primary one too), as initgroups(3) would set them. */
export function userGroups(user: string): Account[] {
  let ids: number[] = [];
  try {
    ids = execFileSync('id', ['-G', user], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
  } catch {
    /* a numeric user with no entry: no groups of its own */
  }
  return [...new Set(ids)].map((id) => findGroup(id) ?? { name: String(id), id });
}

export const isNumericId = isId;
