// The HTTP listener's setting (`ham start --http ADDR:PORT --token T`), as kept
// in the store: a takeover reads it back and binds the same address.
import { HamError } from './errors.js';

export interface HttpSetting {
  host: string;
  port: number;
  /** A bearer token every request must carry; null: none (loopback only). */
  token: string | null;
}

/** The `--token` of `ham start --http`, handed to the daemon in its environment (anyone can read argv in /proc). */
export const HTTP_TOKEN_ENV_VAR = 'HAM_HTTP_TOKEN';

/** The longest token accepted (it is compared with every request's). */
export const MAX_TOKEN_BYTES = 1024;

/** Whether `host` can only be reached from this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * `ADDR:PORT`, `[V6]:PORT` or `PORT` (loopback) into a setting; a non-loopback address
 * needs a token. Throws a bad-request HamError saying what was expected.
 */
export function parseHttpSetting(spec: string, token: string | undefined): HttpSetting {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 1 && port <= 65535))
    throw new HamError({ code: 'bad-request', message: `--http: expected ADDR:PORT or PORT (1-65535), got ${JSON.stringify(spec)}` });
  const host = (m[1] ?? '127.0.0.1').replace(/^\[|\]$/g, '');
  if (token !== undefined && (token.length === 0 || Buffer.byteLength(token) > MAX_TOKEN_BYTES || /[\x00-\x20\x7f]/.test(token)))
    throw new HamError({
      code: 'bad-request',
      message: `--token: expected 1 to ${MAX_TOKEN_BYTES} bytes without spaces or control characters, got ${token.length === 0 ? 'an empty one' : `${Buffer.byteLength(token)} bytes`}`,
    });
  if (!isLoopback(host) && token === undefined)
    throw new HamError({
      code: 'bad-request',
      message: `--http ${spec}: ${host} is not a loopback address, so anyone who reaches it could read the HAM: add --token TOKEN (a bearer token every request must carry), or listen on 127.0.0.1`,
    });
  return { host, port, token: token ?? null };
}
