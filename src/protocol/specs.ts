// Schemas for conditions and actions, shared by the control requests and by
// `ham apply -f`, so a field is named the same way in both errors.
import { constants } from 'node:os';
import { z } from 'zod';
import {
  CLUSTER_EVENTS,
  CONDITION_TYPES,
  LOG_LEVELS,
  SEVERITY_MAX,
  SEVERITY_MIN,
  type ActionKind,
  type ActionSpec,
  type ConditionSpec,
} from '../model/conditions.js';
import { restartPlacementIssues } from './rules.js';
import { envNameProblem, envSizeProblem, envValueProblem } from '../model/environment.js';

export const itemName = z
  .string()
  .min(1, 'expected a non-empty name')
  .max(64, 'expected at most 64 characters')
  .regex(/^[A-Za-z0-9_.:@+-]+$/, 'expected letters, digits and _ . : @ + - only');

/** A raise's severity, bounded (model/conditions.ts). */
export const severity = z
  .number()
  .int()
  .min(SEVERITY_MIN, `expected an integer from ${SEVERITY_MIN} to ${SEVERITY_MAX}`)
  .max(SEVERITY_MAX, `expected an integer from ${SEVERITY_MIN} to ${SEVERITY_MAX}`);

export const noNul = (s: string): boolean => !s.includes('\0');

/**
 * Environment variables, wherever they enter: names checked one by one (an
 * issue on a name says what came in `params.got`, as the value under it is
 * not what is wrong), values without NUL, sizes bounded.
 */
export const envMap = z.record(z.string(), z.string()).superRefine((env, ctx) => {
  for (const [k, v] of Object.entries(env)) {
    const bad = envNameProblem(k);
    if (bad) ctx.addIssue({ code: 'custom', path: [], message: bad, params: { got: `the name ${JSON.stringify(k)}` } });
    const badValue = envValueProblem(v);
    if (badValue) ctx.addIssue({ code: 'custom', path: [k], message: badValue, params: { got: JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v) } });
  }
  const size = envSizeProblem(env);
  if (size) ctx.addIssue({ code: 'custom', path: [], message: size, params: { got: 'too many' } });
});

/** A command: argv, run without a shell. */
export const commandArgv = z
  .array(z.string().max(4096).refine(noNul, 'expected no NUL byte'))
  .min(1, 'expected a command')
  .max(1024)
  .refine((a) => a[0] !== '', { message: 'expected a program name', path: [0] }) // an empty argument is one, passed as given
  .refine((a) => a.reduce((n, x) => n + x.length, 0) <= 64 * 1024, 'expected at most 64 KiB of arguments in all');

export const signalName = z.string().refine((s) => Object.prototype.hasOwnProperty.call(constants.signals, s), 'expected a signal name such as SIGTERM');
const ms = (max: number) => z.number().int('expected whole milliseconds').min(0, 'expected ≥ 0').max(max, `expected at most ${max}`);
const stateSet = z
  .object({ in: z.array(z.string().min(1)).min(1).optional(), notIn: z.array(z.string().min(1)).min(1).optional() })
  .strict()
  .refine((s) => !(s.in && s.notIn), 'expected either in or notIn, not both');

const baseAction = {
  name: itemName.optional(),
  enabled: z.boolean().default(true),
  now: z.boolean().default(false),
  breakOnFail: z.boolean().default(false),
  keepOnFail: z.boolean().default(false),
};

/**
 * Each kind's own fields, once: the schema of every level is built from them.
 * Defaults are filled in here, so what a list holds after parsing has them.
 */
const ACTION_FIELDS = {
  restart: {},
  execute: {
    argv: commandArgv,
    env: envMap.optional(),
    cwd: z.string().min(1).optional(),
    timeoutMs: ms(3_600_000).default(10_000),
    graceMs: ms(3_600_000).optional(),
    /** Run as this user (a name or an id; README "Running as"): checked by apply, resolved at each run. */
    user: z.union([z.string().min(1).max(256), z.number().int().min(0).max(4_294_967_294)]).optional(),
  },
  signal: { signal: signalName.default('SIGTERM'), pid: z.number().int().positive().optional() },
  notify: { message: z.string().max(1024).optional() },
  waitfor: { path: z.string().min(1).optional(), delayMs: ms(3_600_000).optional(), timeoutMs: ms(3_600_000).default(10_000) },
  'heartbeat-healthy': {},
  log: { message: z.string().max(4096).default(''), level: z.enum(LOG_LEVELS).default('info') },
} satisfies Record<ActionKind, z.ZodRawShape>;

/**
 * An action as written: its name may be left out (the list, or action-add,
 * names it after its kind). The one type declared by hand, ActionSpec (in
 * model/conditions.ts), is so because it is recursive (`onFail` holds actions)
 * and lives in the model, which imports nothing of ours; zod's pattern for a
 * recursive type: the schema is typed `z.ZodType<Output, Def, Input>` with it,
 * so the compiler checks every field the schema yields against it, and
 * `sameFields` below checks that it declares no field the schema lacks.
 */
type RawAction = Omit<ActionSpec, 'name'> & { name?: string };

type SchemaFields = keyof typeof baseAction | 'kind' | 'onFail' | { [K in ActionKind]: keyof (typeof ACTION_FIELDS)[K] }[ActionKind];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFields: Same<SchemaFields, keyof ActionSpec> = true;
void sameFields;

type OnFail = z.ZodType<ActionSpec[], z.ZodTypeDef, unknown>;

// Fail-actions nest; three levels is plenty and keeps a config finite.
// Built once per level (not z.lazy): a lazy schema is rebuilt at every parse,
// which made each action cost milliseconds and one apply of a few thousand
// actions stall the HAM past its hang threshold (found by config fuzzing).
function actionSchema(depth: number): z.ZodType<RawAction, z.ZodTypeDef, unknown> {
  const onFail: OnFail =
    depth > 0 ? listSchema(depth - 1).default([]) : z.array(z.never()).max(0, 'expected no deeper fail-actions (3 levels at most)').default([]);
  return z
    .discriminatedUnion('kind', [
      z.object({ ...baseAction, onFail, kind: z.literal('restart'), ...ACTION_FIELDS.restart }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('execute'), ...ACTION_FIELDS.execute }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('signal'), ...ACTION_FIELDS.signal }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('notify'), ...ACTION_FIELDS.notify }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('waitfor'), ...ACTION_FIELDS.waitfor }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('heartbeat-healthy'), ...ACTION_FIELDS['heartbeat-healthy'] }).strict(),
      z.object({ ...baseAction, onFail, kind: z.literal('log'), ...ACTION_FIELDS.log }).strict(),
    ])
    .superRefine((a, ctx) => {
      if (a.kind === 'waitfor' && a.path === undefined && a.delayMs === undefined)
        ctx.addIssue({ code: 'custom', path: ['path'], message: 'expected a path, a delayMs, or both' });
    });
}

const MAX_ACTIONS = 64;
const lists = new Map<number, OnFail>();

/** A list of actions: unnamed ones are named after their kind (kind, kind-2, ...); names are unique. */
function listSchema(depth: number): OnFail {
  const built = lists.get(depth);
  if (built) return built;
  // The length first: a list of 10,000 actions is refused without parsing each one. The issue
  // is fatal: a merely failed check would hand the unparsed list on to the refinements above.
  const list = z
    .array(z.unknown())
    .superRefine((a, ctx) => {
      if (a.length > MAX_ACTIONS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected at most ${MAX_ACTIONS} actions`, fatal: true });
    })
    .pipe(z.array(actionSchema(depth)))
    .superRefine((list, ctx) => {
      const names = new Set<string>();
      list.forEach((a, i) => {
        const n = a.name;
        if (n === undefined) return;
        if (names.has(n)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `expected a unique action name, ${JSON.stringify(n)} is used twice` });
        names.add(n);
      });
    })
    .transform((list) => {
      const taken = new Set(list.map((a) => a.name).filter((n): n is string => n !== undefined));
      return list.map((a) => {
        if (a.name !== undefined) return { ...a, name: a.name };
        let name: string = a.kind;
        for (let i = 2; taken.has(name); i++) name = `${a.kind}-${i}`;
        taken.add(name);
        return { ...a, name };
      });
    });
  lists.set(depth, list);
  return list;
}

/** One action (action-add): unnamed, it is named after its kind (a name taken in its list is refused there as a duplicate). */
export const actionSpec = actionSchema(3).transform((a): ActionSpec => ({ ...a, name: a.name ?? a.kind }));
export const actionList = listSchema(3);

export const conditionBody = z
  .object({
    type: z.enum(CONDITION_TYPES),
    enabled: z.boolean().default(true),
    rearm: z.boolean().default(false),
    independent: z.boolean().default(false),
    match: z
      .object({ type: z.string().min(1).optional(), class: z.string().min(1).optional(), severity: severity.optional() })
      .strict()
      .optional(),
    from: stateSet.optional(),
    to: stateSet.optional(),
    actions: actionList.default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.match && c.type !== 'raise' && c.type !== 'cluster')
      ctx.addIssue({ code: 'custom', path: ['match'], message: `expected match only on a raise or cluster condition, this one is ${c.type}` });
    if (c.match && c.type === 'cluster') for (const i of clusterMatchIssues(c.match)) ctx.addIssue({ code: 'custom', ...i });
    if ((c.from || c.to) && c.type !== 'state')
      ctx.addIssue({ code: 'custom', path: [c.from ? 'from' : 'to'], message: `expected from/to only on a state condition, this one is ${c.type}` });
    for (const i of restartPlacementIssues(c.type, c.actions)) ctx.addIssue({ code: 'custom', path: i.path, message: i.expected, params: { got: i.got } });
  });

/** A cluster condition matches on the event's name only (`match.type`: one of CLUSTER_EVENTS). */
function clusterMatchIssues(m: { type?: string; class?: string; severity?: number }): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (m.type !== undefined && !(CLUSTER_EVENTS as readonly string[]).includes(m.type))
    out.push({ path: ['match', 'type'], message: `expected one of ${CLUSTER_EVENTS.join(', ')} on a cluster condition, got ${JSON.stringify(m.type)}` });
  for (const k of ['class', 'severity'] as const)
    if (m[k] !== undefined) out.push({ path: ['match', k], message: `expected only match.type on a cluster condition, got match.${k}` });
  return out;
}

export type ConditionBody = z.output<typeof conditionBody>;

export function toConditionSpec(name: string, body: ConditionBody): ConditionSpec {
  return { name, ...body };
}
