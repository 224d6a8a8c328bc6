// Readiness probes: one attempt each, asynchronous (Node's sockets, or a
// command through execute.ts: its own process group, no shell, its stderr's
// tail bounded), with its own deadline. Nothing here blocks the loop.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Failure } from '../model/failures.js';
import type { ReadinessProbe } from '../model/readiness.js';
import { execute, type ExecuteRun } from './execute.js';

export type ProbeResult = { ok: true; text: string } | { ok: false; error: string; failure?: Failure };

export interface ProbeRun {
  timeoutMs: number;
  /** For a command: where it runs, what it sees, where its output goes. */
  cwd: string;
  env: Record<string, string>;
  /** A command runs as the entity's user (README "Running as"). */
  ids?: { uid: number; gid: number } | undefined;
  /** Where a command's stdout and stderr go (a new writer per attempt). */
  output: () => ExecuteRun['output'];
}

/** Between SIGTERM and SIGKILL of a command probe past its attempt's deadline. */
const COMMAND_GRACE_MS = 500;

export function runProbe(p: ReadinessProbe, r: ProbeRun): Promise<ProbeResult> {
  switch (p.kind) {
    case 'tcp':
      return tcpProbe(p.host, p.port, r.timeoutMs);
    case 'http':
      return httpProbe(p.url, r.timeoutMs);
    case 'command':
      return commandProbe(p.argv, r);
    default: // notify, fd: the keeper answers them (readiness-keeper.ts), nothing to probe
      return Promise.resolve({ ok: false, error: `${p.kind}: answered by the keeper, not probed` });
  }
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((done) => {
    const where = `${host}:${port}`;
    const sock = connect({ host, port });
    const finish = (res: ProbeResult): void => {
      clearTimeout(timer);
      sock.destroy();
      done(res);
    };
    const timer = setTimeout(() => finish({ ok: false, error: `tcp ${where}: no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.once('connect', () => finish({ ok: true, text: `tcp ${where} accepted a connection` }));
    sock.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: `tcp ${where}: ${e.code ?? e.message}` }));
  });
}

function httpProbe(url: string, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((done) => {
    let settled = false;
    const finish = (res: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      done(res);
    };
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    // No agent: no kept-alive socket outlives the attempt.
    const req = send(url, { method: 'GET', agent: false, headers: { 'user-agent': 'ham-readiness' } }, (res) => {
      const code = res.statusCode ?? 0;
      res.resume(); // the body is not read: the status says it
      if (code >= 200 && code < 400) finish({ ok: true, text: `HTTP ${code} from ${url}` });
      else finish({ ok: false, error: `HTTP ${code} from ${url} (expected 2xx or 3xx)` });
    });
    const timer = setTimeout(() => finish({ ok: false, error: `${url}: no answer within ${timeoutMs} ms` }), timeoutMs);
    req.once('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: `${url}: ${e.code ?? e.message}` }));
    req.end();
  });
}

async function commandProbe(argv: string[], r: ProbeRun): Promise<ProbeResult> {
  try {
    const res = await execute({ argv, cwd: r.cwd, env: r.env, ids: r.ids, timeoutMs: r.timeoutMs, graceMs: COMMAND_GRACE_MS, output: r.output() });
    if (res.ok) return { ok: true, text: `${argv.join(' ')} exited 0` };
    const tail = res.failure.stderrTail?.trim().split('\n').pop();
    return { ok: false, error: `${JSON.stringify(argv[0])} ${res.error}${tail ? `: ${tail}` : ''}`, failure: res.failure };
  } catch (e) {
    // The log could not be opened, or spawn threw: the attempt failed, the entity is not blamed twice for it.
    return { ok: false, error: `cannot run the readiness command: ${(e as Error).message}` };
  }
}
