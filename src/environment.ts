// Environment variables: what a name and a value may be, and the fixed base
// every entity, execute action and detector check starts from.
//
// Names are POSIX portable names ([A-Za-z_][A-Za-z0-9_]*): a name holding `=`
// would reach the child as a different variable (`A=B` + `x` → `A=B=x`), an
// empty one as `=x`, and a NUL cannot be passed to execve at all, so every
// place an environment enters (attach, apply, execute actions, detector
// sidecars, `ham start --env`) refuses them up front.
//
// The base is fixed, as systemd's: it does not depend on which shell ran
// `ham start` last. It is written into the store's settings at the first
// `ham start` of a home, so every HAM of that home (a Guardian taking over, a
// later start from another shell) hands entities the same one.
import { userInfo } from 'node:os';
import { HamError } from './errors.js';

export {
  BASE_ENV_VAR,
  ENV_NAME,
  ENV_NAME_EXPECTED,
  ENV_NAME_MAX,
  ENV_TOTAL_MAX,
  ENV_VALUE_MAX,
  ENV_VARS_MAX,
  envNameProblem,
  envSizeProblem,
  envValueProblem,
  FIXED_PATH,
  parseEnvPair,
  type BaseEnvRequest,
} from './model/environment.js';
import { BASE_ENV_VAR, envNameProblem, envValueProblem, FIXED_PATH, type BaseEnvRequest } from './model/environment.js';

/** The HAM's user, from the password database (not from the caller's HOME/USER, which any shell may change). */
function userVars(): Record<string, string> {
  const u = userInfo();
  const out: Record<string, string> = { HOME: u.homedir, USER: u.username, LOGNAME: u.username };
  if (u.shell) out.SHELL = u.shell;
  return out;
}

/** The base a fresh home starts with: systemd's small fixed set; LANG if the first start had one. */
export function defaultBaseEnv(startingEnv: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { PATH: FIXED_PATH, ...userVars() };
  const lang = startingEnv.LANG;
  if (lang !== undefined && envValueProblem(lang) === undefined) out.LANG = lang;
  return out;
}

/**
 * The base to store at a start: the stored one (or the default, at the
 * first start of a home), with this start's additions and removals.
 */
export function nextBaseEnv(stored: Record<string, string> | null, startingEnv: NodeJS.ProcessEnv, req: BaseEnvRequest | undefined): Record<string, string> {
  const out = { ...(stored ?? defaultBaseEnv(startingEnv)) };
  for (const k of req?.unset ?? []) delete out[k];
  Object.assign(out, req?.set ?? {});
  return out;
}

export function decodeBaseEnvRequest(text: string | undefined): BaseEnvRequest | undefined {
  if (!text) return undefined;
  let v: BaseEnvRequest;
  try {
    v = JSON.parse(text) as BaseEnvRequest;
  } catch (e) {
    throw new HamError({ code: 'bad-request', message: `${BASE_ENV_VAR}: expected JSON, got a parse error: ${(e as Error).message}` });
  }
  for (const [k, x] of Object.entries(v.set)) {
    const bad = envNameProblem(k) ?? envValueProblem(x);
    if (bad) throw new HamError({ code: 'bad-request', message: `${BASE_ENV_VAR}: ${k}: ${bad}` });
  }
  return v;
}
