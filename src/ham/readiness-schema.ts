// The `readiness` block of an entity in `apply`: exactly one probe (tcp, http
// or command), its start's deadline, the interval between probes and one
// probe's own deadline. `notify` and `fd` are the keeper's (sd_notify, a
// newline on fd N): named here so a file that uses them gets a clear refusal.
import { z } from 'zod';
import type { Issue } from '../errors.js';
import { pathText, zodIssues, type Path } from '../protocol/issues.js';
import { commandArgv } from '../protocol/specs.js';
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
    timeoutMs: z.number().int().min(1).max(86_400_000).default(READINESS_DEFAULTS.timeoutMs),
    intervalMs: z.number().int().min(10).max(3_600_000).default(READINESS_DEFAULTS.intervalMs),
    attemptMs: z.number().int().min(1).max(3_600_000).default(READINESS_DEFAULTS.attemptMs),
  })
  .strict();

const PROBES = ['tcp', 'http', 'command'] as const;

/** The block at `at` as a spec, or the problems in it (with their paths). */
export function parseReadiness(raw: unknown, at: Path): { spec?: ReadinessSpec; issues: Issue[] } {
  const r = readinessConfig.safeParse(raw);
  if (!r.success) return { issues: zodIssues(at, raw, r.error) };
  const c = r.data;
  const keeperSide = (['notify', 'fd'] as const).filter((k) => c[k] !== undefined);
  if (keeperSide.length)
    return {
      issues: keeperSide.map((k) => ({ path: pathText([...at, k]), expected: 'tcp, http or command: `notify` and `fd` are not supported yet by this keeper' })),
    };
  const given = PROBES.filter((k) => c[k] !== undefined);
  if (given.length !== 1)
    return {
      issues: [{ path: pathText(at), expected: 'exactly one of tcp, http or command', got: given.length ? given.join(' and ') : 'none of them' }],
    };
  let probe: ReadinessProbe;
  if (c.tcp !== undefined) {
    const m = typeof c.tcp === 'string' ? HOST_PORT.exec(c.tcp)! : null;
    probe = m ? { kind: 'tcp', host: m[1] ?? m[2]!, port: Number(m[3]) } : { kind: 'tcp', host: '127.0.0.1', port: c.tcp as number };
  } else if (c.http !== undefined) probe = { kind: 'http', url: c.http };
  else probe = { kind: 'command', argv: c.command! };
  return { spec: { probe, timeoutMs: c.timeoutMs, intervalMs: c.intervalMs, attemptMs: c.attemptMs }, issues: [] };
}
