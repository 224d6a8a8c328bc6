// Who may use the control socket. The socket's mode (0600) and the home's
// (0700) keep other users out, but a mode can be loosened; so every accepted
// connection's peer credentials are read from the kernel (SO_PEERCRED, by a
// tiny addon built from native/peercred.c) and only the HAM's own user, root,
// and users the home's settings name (`ham start --allow-user NAME`) are
// served. Without the addon (no compiler at install) nothing can tell users
// apart: a connection is served only while the socket and the home are ours
// and closed to others, which the kernel then enforces; anything else is refused.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { HamError } from '../model/errors.js';
import { PACKAGE_ROOT } from '../paths.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

interface Addon {
  peer(fd: number): PeerCred;
}

export const ADDON_PATH = join(PACKAGE_ROOT, 'build', 'peercred.node');

function loadAddon(): Addon | undefined {
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch {
    return undefined;
  }
}

// HAM_PEERCRED=off: behave as if the addon were not built (to test the fallback).
const addon = process.env.HAM_PEERCRED === 'off' ? undefined : loadAddon();

/** Whether the kernel's word on peers is available here. */
export const peerCredAvailable = addon !== undefined;

/** The peer of an accepted unix socket, or undefined if it cannot be read. */
export function peerCredentials(conn: Socket): PeerCred | undefined {
  const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!addon || typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return addon.peer(fd);
  } catch {
    return undefined;
  }
}

/** name → uid from /etc/passwd (Node has no getpwnam). */
function passwd(): { name: string; uid: number }[] {
  try {
    return readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!))
      .map((f) => ({ name: f[0]!, uid: Number(f[2]) }));
  } catch {
    return [];
  }
}

export function userName(uid: number): string | undefined {
  return passwd().find((p) => p.uid === uid)?.name;
}

/** The uids a list of user names (or numeric ids) stands for; unknown names stand for none. */
export function allowedUids(users: readonly string[]): Set<number> {
  const table = passwd();
  const out = new Set<number>();
  for (const u of users) {
    if (/^\d+$/.test(u)) out.add(Number(u));
    else for (const p of table) if (p.name === u) out.add(p.uid);
  }
  return out;
}

export interface AdmissionOptions {
  /** The users the home's settings allow (read at each connection: a change needs no restart). */
  allowUsers: () => readonly string[];
  socket: string;
  home: string;
  /** Told once when the fallback refuses (no addon and a loosened mode). */
  warn: (message: string, fields: Record<string, unknown>) => void;
}

/** The `admit` hook of the control server. */
export function admission(o: AdmissionOptions): (conn: Socket) => HamError | undefined {
  const me = process.getuid?.() ?? 0;
  let warned = false;
  return (conn) => {
    if (!addon)
      return fallback(o, me, () => {
        if (!warned)
          o.warn('peer credentials unavailable (the addon is not built) and the socket or home is open to others: refusing connections', {
            socket: o.socket,
            home: o.home,
          });
        warned = true;
      });
    const cred = peerCredentials(conn);
    if (!cred) return new HamError({ code: 'refused', message: 'refused: the peer credentials of this connection could not be read' });
    if (cred.uid === me || cred.uid === 0) return undefined;
    const users = o.allowUsers();
    if (users.length > 0 && allowedUids(users).has(cred.uid)) return undefined;
    const name = userName(cred.uid);
    const who = name ? `uid ${cred.uid} (${name})` : `uid ${cred.uid}`;
    return new HamError({
      code: 'refused',
      message: `refused: ${who} may not use this HAM (it serves uid ${me} and root); to allow it, run \`ham stop\` then \`ham start --allow-user ${name ?? cred.uid}\` as uid ${me}`,
    });
  };
}

/** Without the addon: serve only while nobody else can reach the socket. */
function fallback(o: AdmissionOptions, me: number, warn: () => void): HamError | undefined {
  const closed = (path: string): boolean => {
    try {
      const st = statSync(path);
      return st.uid === me && (st.mode & 0o077) === 0;
    } catch {
      return false;
    }
  };
  if (closed(o.socket) && closed(o.home)) return undefined;
  warn();
  return new HamError({
    code: 'refused',
    message: `refused: this HAM cannot check who connects (its peer-credentials addon is not built) and ${o.socket} or ${o.home} is open to other users; restore modes 0600/0700, or build the addon (npm run build with a C compiler)`,
  });
}
