import { z } from 'zod';
import { parseAgainst } from '../options.js';
import type { EachBatch, EachEntry, StreamEntry } from './entry.js';

const fn = <T>() => z.custom<T>((value) => typeof value === 'function', { message: 'expected a function' });

/** What `run()` and `lease.entries()` share: where a stream starts, how often positions are committed, how much is
 * read at once, and which entry ends a stream. */
const readingShape = {
  /** With no stored position: 'first' starts at the stream's first entry; 'new' after its last entry at the
   * first grant (stored at once, so a takeover before the first commit skips nothing). */
  startAt: z.enum(['first', 'new']).default('first'),
  /** How often processed positions are committed (ms); also on every hand-off. */
  commitIntervalMs: z.number().int().min(1).max(3_600_000).default(100),
  /** The most entries of one stream per read (and per `eachBatch` call). */
  batchSize: z.number().int().min(1).max(10_000).default(100),
  /** Marks the last entry of a stream: that entry is not handed to the handler; once every entry before it is
   * processed, the position is committed and the stream finished (`doneStream`). */
  isEnd: fn<(entry: StreamEntry) => boolean>().optional(),
};

const entriesSchema = z.strictObject(readingShape);

const runSchema = z.strictObject({
  ...readingShape,
  /** Called for each entry of every owned stream, one entry of a stream at a time, in order. */
  eachEntry: fn<EachEntry>().optional(),
  /** Called with up to `batchSize` consecutive entries of one stream at a time (instead of `eachEntry`). */
  eachBatch: fn<EachBatch>().optional(),
  /** How many streams are processed at the same time. */
  concurrency: z.number().int().min(1).max(100_000).default(16),
  /** Calls of the handler for one entry (or batch) in all before it goes to the entry dead-letter stream. */
  maxAttempts: z.number().int().min(1).max(1000).default(3),
  /** Trim processed entries (XTRIM MINID up to the committed position) so that a stream does not grow forever. */
  trim: z.boolean().default(false),
  /** The most entries read but not yet processed, across all streams: reading pauses at this bound. */
  maxBufferedEntries: z.number().int().min(1).max(10_000_000).default(10_000),
});

export type EntriesOptions = z.input<typeof entriesSchema>;
export type ReadingSettings = z.output<typeof entriesSchema>;
export type RunOptions = z.input<typeof runSchema>;
export type RunSettings = z.output<typeof runSchema> & { readonly handler: Handler };

/** Exactly one of the two handlers. */
export type Handler = { readonly kind: 'entry'; readonly call: EachEntry } | { readonly kind: 'batch'; readonly call: EachBatch };

/** Validates `run()`'s options: a ConfigError names a wrong option; a TypeError says when not exactly one of
 * `eachEntry` and `eachBatch` is given. */
export function parseRunOptions(input: unknown): RunSettings {
  const parsed = parseAgainst(runSchema, input);
  const { eachEntry, eachBatch } = parsed;
  if ((eachEntry === undefined) === (eachBatch === undefined)) {
    throw new TypeError('run() needs exactly one of `eachEntry` and `eachBatch`');
  }
  const handler: Handler = eachEntry ? { kind: 'entry', call: eachEntry } : { kind: 'batch', call: eachBatch! };
  return { ...parsed, handler };
}

/** Validates the options of `lease.entries()`. */
export function parseEntriesOptions(input: unknown): ReadingSettings {
  return parseAgainst(entriesSchema, input ?? {});
}
