// Every request the control socket accepts, validated with zod before the
// HAM sees it. A bad request gets a `bad-request` error naming the field,
// what was expected and what came.
import { z } from 'zod';
import { validationError } from './issues.js';
import { actionSpec, commandArgv as argv, conditionBody, envMap, itemName, severity, signalName } from './specs.js';

export const NAME_MAX = 128;

export const entityName = z
  .string()
  .min(1, 'expected a non-empty name')
  .max(NAME_MAX, `expected at most ${NAME_MAX} characters`)
  .refine((s) => !s.includes('/'), "expected a name without '/'")
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'expected no control characters')
  .refine((s) => s !== '.' && s !== '..', "expected a name other than '.' or '..'");

/** An entity name, or `*` (the global entity) where conditions are concerned. */
export const ownerName = z.union([z.literal('*'), entityName]);
const actionPath = z.array(itemName).min(1, 'expected an action name').max(4);

/** A health check the HAM calls (SAM/AMF style); a failure → `signal`, SIGKILL after `graceMs`. */
const healthSpec = z
  .object({
    intervalMs: z.number().int().min(10, 'expected at least 10 ms').max(3_600_000),
    timeoutMs: z.number().int().min(1).max(3_600_000).optional(),
    signal: signalName.default('SIGTERM'),
    graceMs: z.number().int().min(0).max(3_600_000).default(5000),
  })
  .strict()
  .transform((h) => ({ ...h, timeoutMs: h.timeoutMs ?? h.intervalMs }));

/** Sent again with the same key (the library does, across a takeover), a raise or state makes one event. */
const idempotencyKey = z.string().min(1).max(128).optional();

export const requestSchemas = {
  ping: z.object({}).strict(),
  stats: z.object({ reset: z.boolean().default(false), loop: z.enum(['start', 'stop']).optional() }).strict(),
  /** A page of entities after `after` (in name order); the reply's `next` names where the next page starts. */
  status: z.object({ name: ownerName.optional(), after: entityName.optional(), limit: z.number().int().positive().max(10_000).optional() }).strict(),
  attach: z
    .object({
      name: entityName.refine((s) => s !== '*', "expected a name other than '*' (the global entity)"),
      argv: argv.optional(),
      pid: z.number().int().positive().optional(),
      restart: z.boolean().default(false),
      env: envMap.default({}),
      cwd: z.string().startsWith('/', 'expected an absolute path').optional(),
    })
    .strict()
    .refine((a) => !a.restart || a.argv !== undefined, {
      message: 'expected a command (argv) with restart: without one there is nothing to restart',
      path: ['restart'],
    }),
  detach: z.object({ name: entityName }).strict(),
  reset: z.object({ name: entityName }).strict(),
  stop: z.object({ all: z.boolean().default(false) }).strict(),
  /** `ham stop|start|restart|reload NAME`, `ham restart --group G`; `wait`: answered once done (stopped, or running and ready). */
  control: z
    .object({
      request: z.enum(['stop', 'start', 'restart', 'reload']),
      name: entityName.optional(),
      group: entityName.optional(),
      wait: z.boolean().default(false),
    })
    .strict()
    .refine((c) => (c.name === undefined) !== (c.group === undefined), { message: 'expected a name or a group, one of them', path: ['name'] })
    .refine((c) => c.group === undefined || c.request === 'restart', { message: 'expected restart with a group (a rolling restart)', path: ['group'] }),
  'condition-add': z.object({ entity: ownerName, name: itemName, condition: conditionBody }).strict(),
  'condition-rm': z.object({ entity: ownerName, name: itemName }).strict(),
  'action-add': z.object({ entity: ownerName, condition: itemName, action: actionSpec, onFailOf: actionPath.optional() }).strict(),
  'action-rm': z.object({ entity: ownerName, condition: itemName, path: actionPath }).strict(),
  enable: z.object({ entity: ownerName, condition: itemName.optional(), path: actionPath.optional(), enabled: z.boolean() }).strict(),
  raise: z
    .object({
      entity: entityName,
      type: z.string().min(1).max(128),
      class: z.string().min(1).max(128).optional(),
      severity: severity.optional(),
      key: idempotencyKey,
    })
    .strict(),
  state: z.object({ entity: entityName, state: z.string().min(1).max(128), key: idempotencyKey }).strict(),
  events: z
    .object({
      since: z.number().int().nonnegative().default(0),
      limit: z.number().int().positive().max(10_000).default(1000),
      entity: ownerName.optional(),
      condition: z.string().optional(),
    })
    .strict(),
  subscribe: z.object({ since: z.number().int().nonnegative().optional(), entity: ownerName.optional(), condition: z.string().optional() }).strict(),
  apply: z.object({ config: z.unknown(), dryRun: z.boolean().default(false) }).strict(),
  detectors: z.object({}).strict(),
  'cluster-status': z.object({}).strict(),
  'cluster-relocate': z.object({ name: entityName, to: entityName.optional() }).strict(),
  'self-attach': z
    .object({
      name: entityName.refine((s) => s !== '*', "expected a name other than '*'"),
      pid: z.number().int().positive(),
      heartbeatMs: z.number().int().min(10, 'expected at least 10 ms').max(3_600_000).optional(),
      missedLow: z.number().int().min(1).max(1000).default(3),
      missedHigh: z.number().int().min(1).max(1000).optional(),
      health: healthSpec.optional(),
    })
    .strict()
    .refine((a) => a.missedHigh === undefined || a.missedHigh >= a.missedLow, { message: 'expected missedHigh ≥ missedLow', path: ['missedHigh'] }),
  'self-detach': z.object({ name: entityName }).strict(),
  /** The client's answer to a health-check call (a notification). */
  'health-reply': z.object({ name: entityName, call: z.number().int().positive(), healthy: z.boolean(), message: z.string().max(1024).optional() }).strict(),
  beat: z.object({ name: entityName }).strict(),
  store: z.object({ name: entityName, value: z.unknown() }).strict(),
  restore: z.object({ name: entityName }).strict(),
} as const;

export type Op = keyof typeof requestSchemas;
export type RequestArgs<O extends Op> = z.output<(typeof requestSchemas)[O]>;

export const envelope = z
  .object({
    id: z.number().int().nonnegative(),
    op: z.string().max(64),
    args: z.record(z.unknown()).default({}),
  })
  .strict();

export function isOp(op: string): op is Op {
  return Object.prototype.hasOwnProperty.call(requestSchemas, op);
}

export function parseArgs<O extends Op>(op: O, args: unknown): RequestArgs<O> {
  const r = requestSchemas[op].safeParse(args);
  if (!r.success) throw validationError(op, args, r.error);
  return r.data as RequestArgs<O>;
}
