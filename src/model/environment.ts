// What an environment variable's name and value may be (every place an
// environment enters refuses the others up front: see environment.ts), and
// how the CLI hands `ham start`'s additions to the daemon. Pure rules: the
// protocol's schemas and the CLI check with them too.

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

/** The request as the CLI hands it to the daemon (in its environment: argv is world-readable in /proc, environ is not). */
export const BASE_ENV_VAR = 'HAM_START_ENV';
