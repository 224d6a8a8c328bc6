// What every command shares: global options, one request to the HAM, option parsers.
import { InvalidArgumentError, type Command } from 'commander';
import { connect } from '../client/connection.js';
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
  const home = resolveHome(g.home);
  let c;
  try {
    c = await connect({ home });
  } catch {
    fail(g, new HamError({ code: 'not-running', message: `no HAM is running on ${home} (start one with \`ham start\`)` }));
  }
  try {
    return await c.request(op, args);
  } catch (e) {
    fail(g, e);
  } finally {
    c.close();
  }
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
