import { z } from 'zod';
import { RedisStreamClientError } from '../errors.js';
import type { StreamInfo } from '../events.js';

/** What a script did with one LBS entry (take, recover, take-back). */
export type EntryOutcome =
  | { kind: 'granted'; lbsId: string; stream: string; info: StreamInfo; token: number }
  | { kind: 'duplicate'; lbsId: string; stream: string }
  | { kind: 'dead'; lbsId: string; reason: string };

/** Receives what could not be decoded. Decoding goes on with the other items: a grant is already made in Redis
 * (the entry is pending under this consumer, with a fencing token), so dropping the rest of a reply would leave
 * entries owned in Redis and unknown here. */
export type DecodeReport = (error: RedisStreamClientError) => void;

const outcomeSchema = z.union([
  z.tuple([z.literal('granted'), z.string(), z.string(), z.string(), z.number()]),
  z.tuple([z.literal('duplicate'), z.string(), z.string()]),
  z.tuple([z.literal('dead'), z.string(), z.string()]),
]);

/** The items of a take, recover or take-back reply. An item that does not decode is reported and skipped; a grant
 * whose Info does not decode is kept with info `{}` and reported. */
export function decodeOutcomes(items: readonly unknown[], report: DecodeReport): EntryOutcome[] {
  return items.flatMap((item): EntryOutcome[] => {
    const parsed = outcomeSchema.safeParse(item);
    if (!parsed.success) {
      report(new RedisStreamClientError(`A script reply item could not be decoded and was skipped: ${show(item)}`, { cause: parsed.error }));
      return [];
    }
    const outcome = parsed.data;
    switch (outcome[0]) {
      case 'granted': {
        const [, lbsId, stream, raw, token] = outcome;
        return [{ kind: 'granted', lbsId, stream, info: decodeInfo(raw, { lbsId, stream }, report), token }];
      }
      case 'duplicate':
        return [{ kind: 'duplicate', lbsId: outcome[1], stream: outcome[2] }];
      case 'dead':
        return [{ kind: 'dead', lbsId: outcome[1], reason: outcome[2] }];
    }
  });
}

/**
 * The `Info` object of an entry's `lbs-input` value; `{}` when absent (or an empty JSON array, which Lua cannot
 * tell from an empty object). The scripts admit only what JSON.parse reads (entry.lua), so text that does not parse
 * here comes from an entry admitted otherwise (by an older version, say): it is reported, naming the entry, and
 * `{}` is returned, so that the stream is still owned and announced.
 */
export function decodeInfo(raw: string, entry: { lbsId: string; stream: string }, report: DecodeReport): StreamInfo {
  try {
    const document: unknown = JSON.parse(raw);
    if (!isObject(document)) throw new TypeError('lbs-input is not a JSON object');
    return isObject(document.Info) ? (document.Info as StreamInfo) : {};
  } catch (error) {
    const what = `LBS entry ${entry.lbsId} (stream ${JSON.stringify(entry.stream)})`;
    report(new RedisStreamClientError(`${what}: its Info could not be decoded (${String(error)}); the stream is owned with info {}`, { cause: error }));
    return {};
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An item for an error message, cut short. */
function show(item: unknown): string {
  const text = JSON.stringify(item) ?? String(item);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
