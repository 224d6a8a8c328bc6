// What every command shares: global options, one request to the HAM, option parsers.
import { InvalidArgumentError, type Command } from 'commander';
import { connect, type Connection } from '../client/connection.js';
import { HamError } from '../errors.js';
import { resolveHome } from '../home.js';
import type { Op, RequestArgs } from '../protocol/requests.js';
import { fail, type OutputOptions } from './output.js';

export interface Globals extends OutputOptions {
  home?: string;
}

export function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer for ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
}

export function envPair(v: string, acc: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected NAME=VALUE, got ${JSON.stringify(v)}`);
  return { ...acc, [v.slice(0, i)]: v.slice(i + 1) };
}

/** One request to the HAM serving the home; not running → exit 1 with the error. */
export async function call<O extends Op>(g: Globals, op: O, args: Partial<RequestArgs<O>>): Promise<unknown> {
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
  return new HamError({ code: 'not-running', message: `no HAM is running on ${home} (start one with \`ham start\`)`, ...(err.causeText ? { cause: err.causeText } : {}) });
}


export const globals = (cmd: Command): Globals => cmd.optsWithGlobals<Globals>();

export function integer(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer for ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
}

export const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter(Boolean);
