// Running as, handed to the keeper (keeper-runas.c) in its environment as plain
// numbers (the child takes them out before exec), and what an entity run as
// another user is given of that user (HOME, USER, LOGNAME: as systemd's User=).
import type { RunAs } from '../model/runas.js';

/** HAM_RUN_* for the keeper; empty without running-as settings. */
export function runAsKeeperEnv(r: RunAs | null | undefined): Record<string, string> {
  if (!r) return {};
  const env: Record<string, string> = {};
  if (r.user) env.HAM_RUN_UID = String(r.user.uid);
  if (r.group) env.HAM_RUN_GID = String(r.group.gid);
  if (r.groups) env.HAM_RUN_GROUPS = r.groups.map((g) => g.gid).join(',');
  if (r.umask !== undefined) env.HAM_RUN_UMASK = r.umask;
  if (r.nice !== undefined) env.HAM_RUN_NICE = String(r.nice);
  if (r.oomScoreAdj !== undefined) env.HAM_RUN_OOM = String(r.oomScoreAdj);
  const limits = Object.entries(r.limits ?? {}).map(([k, v]) => `${k}=${v.soft}:${v.hard}`);
  if (limits.length) env.HAM_RUN_LIMITS = limits.join(',');
  return env;
}

/** The user's HOME, USER and LOGNAME, when it runs as another user than this process. */
export function runAsUserEnv(r: RunAs | null | undefined): Record<string, string> {
  const u = r?.user;
  if (!u || u.uid === (process.geteuid?.() ?? -1)) return {};
  return { HOME: u.home, USER: u.name, LOGNAME: u.name };
}

/** Another user's command cannot enter the 0700 home: its notify socket is then under /run/ham-notify (notify-dir.ts). */
export function runsAsOther(r: RunAs | null | undefined): boolean {
  return !!r?.user && r.user.uid !== (process.geteuid?.() ?? -1);
}
