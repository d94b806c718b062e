import { hostname } from 'node:os';
import { nanoid } from 'nanoid';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { isValidServiceName } from './keys.js';
import { defaultLogger, type Logger } from './logger.js';

const loggerSchema = z.custom<Logger>(
  (value) =>
    typeof value === 'object' &&
    value !== null &&
    ['debug', 'info', 'warn', 'error'].every((level) => typeof (value as Record<string, unknown>)[level] === 'function'),
  { message: 'expected an object with debug, info, warn and error functions' },
);

/** The options of `RedisStreamClient`: one schema is their type, their defaults and their validation. */
const optionsSchema = z.strictObject({
  /** Namespaces every key; consumers of one service share streams. */
  serviceName: z.string().refine(isValidServiceName, 'expected a non-empty string without "{" or "}"'),
  /** A consumer silent this long is dead. Its session is extended about every heartbeatMs / 3. */
  heartbeatMs: z.number().int().min(100).max(3_600_000).default(2000),
  /** This consumer's name in the consumer group. Default: host name, pid and a random suffix. */
  consumerId: z
    .string()
    .min(1)
    .max(256)
    .default(() => `${hostname()}-${process.pid}-${nanoid(8)}`),
  /** Claim orphaned streams automatically and emit them as `streamAdded` with `recovered: true`. */
  autoClaim: z.boolean().default(false),
  /** Stop taking LBS entries while holding this many streams. */
  maxStreams: z.number().int().min(1).default(Number.MAX_SAFE_INTEGER),
  /** A stream whose owners died this many times is dead-lettered instead of taken over again (a poison stream
   * would otherwise kill the fleet one consumer at a time). Hand-offs by close() do not count. */
  maxDeliveries: z.number().int().min(1).max(1_000_000).default(10),
  /** LBS entries whose `lbs-input` (the stream name and its Info) is larger are dead-lettered. */
  maxEntryBytes: z.number().int().min(64).max(64 * 1024 * 1024).default(65_536),
  /** Add the `notify-keyspace-events` flags the client needs (K or E, and x) with CONFIG SET when missing. */
  configureKeyspaceEvents: z.boolean().default(true),
  /** Where the client logs; silent by default except for errors nobody listens to. */
  logger: loggerSchema.default(defaultLogger),
  /** Move streams between live consumers until each holds its fair share (when consumers join, leave, drain or
   * resume). Off, this consumer never gives streams away to even out shares; it still receives them, and close()
   * and drain() still hand streams over. */
  rebalance: z.boolean().default(true),
  /** This consumer's part of the fleet's streams relative to the others' weights (default 1 each). */
  weight: z.number().positive().max(1_000_000).default(1),
  /** How far above its fair share a consumer may go before streams move: max(1 stream, this share of the fair share). */
  rebalanceTolerance: z.number().min(0).max(10).default(0.1),
  /** How long a hand-off waits for the handlers under way on the streams it gives (ms). Default heartbeatMs. */
  releaseTimeoutMs: z.number().int().min(0).max(3_600_000).optional(),
  /** How long close({ restart: true }) keeps this consumer's streams for its next process under the same
   * consumerId (ms), before the others take them over. */
  restartGraceMs: z.number().int().min(1).max(3_600_000).default(30_000),
});

export type RedisStreamClientOptions = z.input<typeof optionsSchema>;
export type ResolvedOptions = Omit<z.output<typeof optionsSchema>, 'releaseTimeoutMs'> & {
  readonly releaseTimeoutMs: number;
  /** Whether `consumerId` was given (the default changes with every process: no restart can come back to it). */
  readonly consumerIdGiven: boolean;
};

/** Validates options; the error names the option and says what was expected and what was given. */
export function parseOptions(input: unknown): ResolvedOptions {
  const options = parseAgainst(optionsSchema, input);
  const consumerIdGiven = (input as { consumerId?: unknown }).consumerId !== undefined;
  return { ...options, releaseTimeoutMs: options.releaseTimeoutMs ?? options.heartbeatMs, consumerIdGiven };
}

/** Validates `input` against an options schema; a ConfigError names the (first) option that is wrong. */
export function parseAgainst<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const option = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return fail(`Unknown option ${issue.keys.map((key) => `\`${key}\``).join(', ')}`, issue.keys[0]);
  }
  if (option === '') return fail(`Expected options to be an object, got ${describe(input)}`);
  const given = (input as Record<string, unknown>)[issue.path[0] as string];
  return fail(`Invalid option \`${option}\`: ${issue.message}, got ${describe(given)}`, option);
}

function fail(message: string, setting?: string): never {
  throw new ConfigError(message, setting);
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number' || value === undefined) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const timeoutSchema = z.number().int().min(1).max(3_600_000);

/** Validates the `timeoutMs` of init(), close() or done(); `fallback` when it is not given. */
export function parseTimeout(timeoutMs: unknown, fallback: number): number {
  if (timeoutMs === undefined) return fallback;
  const parsed = timeoutSchema.safeParse(timeoutMs);
  if (parsed.success) return parsed.data;
  return fail(`Invalid option \`timeoutMs\`: expected an integer number of ms from 1 to 3,600,000, got ${describe(timeoutMs)}`, 'timeoutMs');
}
