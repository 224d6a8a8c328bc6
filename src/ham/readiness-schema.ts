// The `readiness` block of an entity in `apply`: exactly one way (tcp, http or
// command, probed by the HAM; notify or fd, answered by the C keeper: sd_notify,
// a newline on fd N), its start's deadline, the interval between probes and one
// probe's own deadline. The Perl keeper speaks neither notify nor fd: refused
// there, naming why.
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { pathText, zodIssues, type Path } from '../protocol/issues.js';
import { commandArgv } from '../protocol/specs.js';
import { keeperCommand } from '../paths.js';
import { READINESS_DEFAULTS, type ReadinessProbe, type ReadinessSpec } from '../model/readiness.js';

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;
const isPort = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
/** A port (on 127.0.0.1) or "HOST:PORT": one problem, whichever way it is wrong. */
const tcpTarget = z.unknown().refine((v) => {
  if (typeof v === 'number') return isPort(v);
  const m = typeof v === 'string' ? HOST_PORT.exec(v) : null;
  return !!m && isPort(Number(m[3]));
}, 'expected a port from 1 to 65535, or "HOST:PORT"');
const url = z
  .string()
  .max(4096)
  .url('expected a URL such as http://127.0.0.1:8080/health')
  .refine((u) => /^https?:\/\//i.test(u), 'expected an http:// or https:// URL');

export const readinessConfig = z
  .object({
    tcp: tcpTarget.optional(),
    http: url.optional(),
    command: commandArgv.optional(),
    notify: z.literal(true).optional(),
    fd: z.number().int().min(3).max(1023).optional(),
    watchdogMs: z.number().int().min(10).max(86_400_000).optional(),
    timeoutMs: z.number().int().min(1).max(86_400_000).default(READINESS_DEFAULTS.timeoutMs),
    intervalMs: z.number().int().min(10).max(3_600_000).default(READINESS_DEFAULTS.intervalMs),
    attemptMs: z.number().int().min(1).max(3_600_000).default(READINESS_DEFAULTS.attemptMs),
  })
  .strict();

const PROBES = ['tcp', 'http', 'command', 'notify', 'fd'] as const;
/** A misspelt field's nearest ("did you mean"). */
const READINESS_FIELDS = Object.keys(readinessConfig.shape);

/** The block at `at` as a spec, or the problems in it (with their paths). */
export function parseReadiness(raw: unknown, at: Path): { spec?: ReadinessSpec; issues: Issue[] } {
  const r = readinessConfig.safeParse(raw);
  if (!r.success) return { issues: zodIssues(at, raw, r.error, READINESS_FIELDS) };
  const c = r.data;
  const given = PROBES.filter((k) => c[k] !== undefined);
  if (given.length !== 1)
    return {
      issues: [{ path: pathText(at), expected: 'exactly one of tcp, http, command, notify or fd', got: given.length ? given.join(' and ') : 'none of them' }],
    };
  if (c.watchdogMs !== undefined && c.notify === undefined)
    return { issues: [{ path: pathText([...at, 'watchdogMs']), expected: 'expected watchdogMs only with notify (WATCHDOG=1 beats)', got: given[0] }] };
  const keeper = keeperCommand();
  if ((c.notify !== undefined || c.fd !== undefined) && keeper.kind === 'perl')
    return {
      issues: [
        {
          path: pathText([...at, given[0]!]),
          expected: `expected tcp, http or command: \`${given[0]}\` needs the C keeper, and this HAM runs the Perl keeper (${keeper.argv.at(-1)}: no C compiler at install, or HAM_KEEPER=perl)`,
        },
      ],
    };
  let probe: ReadinessProbe;
  if (c.tcp !== undefined) {
    const m = typeof c.tcp === 'string' ? HOST_PORT.exec(c.tcp)! : null;
    probe = m ? { kind: 'tcp', host: m[1] ?? m[2]!, port: Number(m[3]) } : { kind: 'tcp', host: '127.0.0.1', port: c.tcp as number };
  } else if (c.http !== undefined) probe = { kind: 'http', url: c.http };
  else if (c.notify !== undefined) probe = { kind: 'notify', watchdogMs: c.watchdogMs ?? null };
  else if (c.fd !== undefined) probe = { kind: 'fd', fd: c.fd };
  else probe = { kind: 'command', argv: c.command! };
  return { spec: { probe, timeoutMs: c.timeoutMs, intervalMs: c.intervalMs, attemptMs: c.attemptMs }, issues: [] };
}
