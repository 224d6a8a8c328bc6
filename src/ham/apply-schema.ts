// The schema of an `apply` file, part by part: each part is parsed on its own
// (an entity's conditions are checked even when its `command:` is wrong), so
// every problem in a file is found in one pass. Types are inferred from here.
import { z } from 'zod';
import { entityName } from '../protocol/requests.js';
import { commandArgv, envMap, signalName } from '../protocol/specs.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_STOP_POLICY } from '../model/defaults.js';
import { STRATEGIES } from '../model/records.js';
import { runAsFields } from './runas-schema.js';

export const entityConfig = z
  .object({
    command: commandArgv.optional(),
    pid: z.number().int().positive().optional(),
    placeholder: z.literal(true).optional(),
    env: envMap.default({}),
    cwd: z.string().min(1).optional(),
    conditions: z.record(z.unknown()).default({}),
    restart: z.unknown().optional(),
    stop: z.unknown().optional(),
    /** What `ham reload NAME` sends (default SIGHUP); kept with the stop policy. */
    reloadSignal: signalName.optional(),
    readiness: z.unknown().optional(), // readiness-schema.ts
    group: entityName.optional(),
    requires: z.array(entityName).max(64).default([]),
    logs: z.unknown().optional(),
    ...runAsFields, // user, groups, umask, envFile, limits, nice, oomScoreAdj, cgroup
  })
  .strict();
export type EntityConfig = z.output<typeof entityConfig>;

export const groupConfig = z.object({ strategy: z.enum(STRATEGIES).default('one-for-one') }).strict();

const ms = (max: number) => z.number().int().min(0).max(max);
const DAY = 86_400_000;
/** The recovery policy (issue 6): backoff, intensity, and what to run when it is exceeded. */
export const restartConfig = z
  .object({
    backoff: z
      .object({
        initialMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.initialMs),
        factor: z.number().min(1).max(100).default(DEFAULT_RESTART_POLICY.backoff.factor),
        maxMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.maxMs),
        resetAfterMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.resetAfterMs),
      })
      .strict()
      .refine((b) => b.maxMs >= b.initialMs, { message: 'expected maxMs ≥ initialMs', path: ['maxMs'] })
      .default({}),
    intensity: z
      .object({ max: z.number().int().min(0).max(1_000_000), withinMs: ms(DAY).min(1) })
      .strict()
      .optional(),
    escalate: z.array(z.unknown()).max(64).optional(),
  })
  .strict();

export const stopConfig = z
  .object({ signal: signalName.default(DEFAULT_STOP_POLICY.signal), timeoutMs: ms(3_600_000).default(DEFAULT_STOP_POLICY.timeoutMs) })
  .strict();

/** An entity's output log (README "Output"); each field falls back to the file's top-level `logs`, then to the default. */
export const logsConfig = z
  .object({
    maxBytes: z
      .number()
      .int()
      .min(4096)
      .max(2 ** 40)
      .optional(),
    keep: z.number().int().min(0).max(1000).optional(),
  })
  .strict();

export const configSchema = z
  .object({
    entities: z.record(z.unknown()).default({}),
    groups: z.record(z.unknown()).default({}),
    baseDir: z.string().optional(),
    logs: z.unknown().optional(),
  })
  .strict();
export type ApplyFile = z.output<typeof configSchema>;

/** The condition that `restart.escalate` becomes: fired once when the intensity is exceeded. */
export const ESCALATE_CONDITION = 'escalate';
