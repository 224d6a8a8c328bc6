// What `ham start` asks to change in the home's settings. Applied in the very
// transaction that claims the HAM role, so a start that loses the claim (a
// pair already serves the home) changes nothing of the running pair's.
import { decodeBaseEnvRequest, nextBaseEnv, type BaseEnvRequest } from '../environment.js';
import { checkLimitSettings } from '../model/limits.js';
import type { Settings } from '../model/records.js';
import { HTTP_TOKEN_ENV_VAR, parseHttpSetting, type HttpSetting } from '../model/http.js';

export interface StartRequest {
  hangMs?: number;
  detectorsDir?: string | null;
  storeMaxBytes?: number;
  savedMaxBytes?: number;
  allowUsers?: string[];
  /** null: turn it off (`--http ''`). */
  http?: HttpSetting | null;
  baseEnv: BaseEnvRequest | undefined;
}

/** Read from the daemon's argv and the environment the CLI handed it. */
export function startRequest(arg: (name: string) => string | undefined, env: NodeJS.ProcessEnv, baseEnvVar: string): StartRequest {
  const int = (name: string): number | undefined => {
    const n = Number(arg(name));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const detectors = arg('detectors');
  const allow = arg('allow-user');
  const http = arg('http');
  return {
    // Checked by the CLI already; a bad one here throws, and the start fails saying why.
    http: http === undefined ? undefined : http === '' ? null : parseHttpSetting(http, env[HTTP_TOKEN_ENV_VAR] || undefined),
    hangMs: int('hang-ms'),
    detectorsDir: detectors === undefined ? undefined : detectors === '' ? null : detectors,
    storeMaxBytes: int('store-max-bytes'),
    savedMaxBytes: int('saved-max-bytes'),
    allowUsers: allow === undefined ? undefined : allow.split(',').filter(Boolean),
    baseEnv: decodeBaseEnvRequest(env[baseEnvVar]),
  };
}

/** The settings after a start: the base environment is fixed at the first start and changed only when asked. */
export function nextSettings(s: Settings, r: StartRequest, env: NodeJS.ProcessEnv): Settings {
  const out: Settings = { ...s };
  if (r.hangMs !== undefined) out.hangMs = r.hangMs;
  if (r.detectorsDir !== undefined) out.detectorsDir = r.detectorsDir;
  if (r.allowUsers !== undefined) out.allowUsers = r.allowUsers;
  if (r.http !== undefined) out.http = r.http;
  for (const key of ['storeMaxBytes', 'savedMaxBytes'] as const) {
    const n = r[key];
    if (n !== undefined && checkLimitSettings({ ...out, [key]: n }) === undefined) out[key] = n;
  }
  if (s.baseEnv === null || r.baseEnv) out.baseEnv = nextBaseEnv(s.baseEnv, env, r.baseEnv);
  return out;
}
