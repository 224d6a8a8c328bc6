// What every command shares: global options, one request to the HAM, option parsers.
import { InvalidArgumentError, type Command } from 'commander';
import { connect, type Connection } from '../client/connection.js';
import { envNameProblem, parseEnvPair, type BaseEnvRequest } from '../model/environment.js';
import { HamError } from '../model/errors.js';
import { resolveHome } from '../model/home-paths.js';
import type { Op, RequestArgs } from '../protocol/requests.js';
import type { Reply } from '../protocol/responses.js';
import { SEVERITY_MAX, SEVERITY_MIN } from '../model/conditions.js';
import { fail, type OutputOptions } from './output.js';

export interface Globals extends OutputOptions {
  home?: string;
}

export function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    // A safe integer: past 2^53 a number is not the one typed (99999999999999999999999 reads as 1e+23).
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer for ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function envPair(v: string, acc: Record<string, string>): Record<string, string> {
  const p = parseEnvPair(v);
  if (typeof p === 'string') throw new InvalidArgumentError(p);
  return { ...acc, [p[0]]: p[1] };
}

export const collect = (v: string, acc: string[]): string[] => [...acc, v];

/** `ham start --env/--pass-env/--unset-env` as one request (undefined: none given). */
export function baseEnvRequest(env: Record<string, string>, pass: string[], unset: string[]): BaseEnvRequest | undefined {
  if (!Object.keys(env).length && !pass.length && !unset.length) return undefined;
  const set = { ...env };
  for (const [flag, names] of [
    ['--pass-env', pass],
    ['--unset-env', unset],
  ] as const) {
    for (const n of names) {
      const bad = envNameProblem(n);
      if (bad) throw new HamError({ code: 'bad-request', message: `${flag}: ${bad}, got ${JSON.stringify(n)}` });
    }
  }
  for (const n of pass) {
    const v = process.env[n];
    if (v === undefined) throw new HamError({ code: 'bad-request', message: `--pass-env ${n}: expected ${n} to be set in this shell, it is not` });
    set[n] = v;
  }
  return { set, unset };
}

/** One request to the HAM serving the home; not running → exit 1 with the error. */
export async function call<O extends Op>(g: Globals, op: O, args: Partial<RequestArgs<O>>): Promise<Reply<O>> {
  const c = await open(g);
  try {
    return await c.request(op, args);
  } catch (e) {
    fail(g, e);
  } finally {
    c.close();
  }
}

/**
 * A connection to the HAM of the home, or exit 1 saying why not: no HAM is
 * running (nothing listens), permission denied (naming the socket and uid),
 * or timed out.
 */
export async function open(g: Globals): Promise<Connection> {
  const home = resolveHome(g.home);
  try {
    return await connect({ home });
  } catch (e) {
    fail(g, notRunning(home, e));
  }
}

/** "no HAM is running on HOME" for a socket nobody listens on; any other failure as it is. */
export function notRunning(home: string, e: unknown): HamError {
  const err = HamError.from(e);
  if (err.code !== 'not-running') return err;
  return new HamError({
    code: 'not-running',
    message: `no HAM is running on ${home} (start one with \`ham start\`)`,
    ...(err.causeText ? { cause: err.causeText } : {}),
  });
}

export const globals = (cmd: Command): Globals => cmd.optsWithGlobals<Globals>();

/** An integer within [min, max] (by default what a severity may be: 32 bits, as a C detector sends it). */
export function integer(what: string, min = SEVERITY_MIN, max = SEVERITY_MAX) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max} for ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
}

export const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
