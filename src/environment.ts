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

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const ENV_NAME_MAX = 128;
export const ENV_VALUE_MAX = 32 * 1024;
export const ENV_VARS_MAX = 256;
/** All names and values of one environment together (execve's limit is far above, but ours is a stored value). */
export const ENV_TOTAL_MAX = 256 * 1024;

/** systemd's PATH for services. */
export const FIXED_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const ENV_NAME_EXPECTED = `expected a variable name of letters, digits and _ not starting with a digit (${ENV_NAME.source}), at most ${ENV_NAME_MAX} characters`;

/** Why `name` is not an acceptable variable name, or undefined. */
export function envNameProblem(name: string): string | undefined {
  return ENV_NAME.test(name) && name.length <= ENV_NAME_MAX ? undefined : ENV_NAME_EXPECTED;
}

/** Why `value` is not an acceptable value, or undefined. */
export function envValueProblem(value: string): string | undefined {
  if (value.includes('\0')) return 'expected no NUL byte in the value';
  if (value.length > ENV_VALUE_MAX) return `expected a value of at most ${ENV_VALUE_MAX} characters`;
  return undefined;
}

/** Why a whole environment is too big, or undefined. */
export function envSizeProblem(env: Record<string, string>): string | undefined {
  const keys = Object.keys(env);
  if (keys.length > ENV_VARS_MAX) return `expected at most ${ENV_VARS_MAX} variables, got ${keys.length}`;
  const total = keys.reduce((n, k) => n + k.length + 1 + env[k]!.length, 0);
  if (total > ENV_TOTAL_MAX) return `expected at most ${ENV_TOTAL_MAX} characters of names and values in all, got ${total}`;
  return undefined;
}

/** `NAME=VALUE` → [NAME, VALUE], or a message saying what was expected and what came. */
export function parseEnvPair(text: string): [string, string] | string {
  const i = text.indexOf('=');
  if (i < 0) return `expected NAME=VALUE, got ${JSON.stringify(text)}`;
  const name = text.slice(0, i);
  const value = text.slice(i + 1);
  const bad = envNameProblem(name);
  if (bad) return `${bad}, got the name ${JSON.stringify(name)} (in ${JSON.stringify(text)})`;
  const badValue = envValueProblem(value);
  if (badValue) return `${name}: ${badValue}`;
  return [name, value];
}

/** What `ham start` was asked to add to the base: set these, copy those from the starting shell, drop those. */
export interface BaseEnvRequest {
  set: Record<string, string>;
  unset: string[];
}

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

/** The request as the CLI hands it to the daemon (in its environment: argv is world-readable in /proc, environ is not). */
export const BASE_ENV_VAR = 'HAM_START_ENV';

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
