import { RedisStreamClientError } from '../errors.js';
import { isStreamId } from '../processing/stream-id.js';

/** Which dead-letter stream: `lbs` holds the LBS entries that could not be handed out (`keys.deadLetter`),
 * `entries` the data stream entries whose handler failed `maxAttempts` times (`keys.entryDeadLetter`). */
export type DeadLetterKind = 'lbs' | 'entries';

/** Field name/value pairs in the order Redis keeps them (a name may repeat within a stream entry). */
export type FieldPairs = ReadonlyArray<readonly [string, string]>;

/** The most field/value pairs of an LBS entry its dead-letter copy keeps (entry.lua's dead_letter). */
export const KEPT_PAIRS = 32;

/** A record of the LBS dead-letter stream. */
export interface LbsDeadLetter {
  readonly kind: 'lbs';
  /** The record's id in the dead-letter stream. */
  readonly id: string;
  readonly reason: string;
  /** The id the entry had in the LBS. */
  readonly lbsId: string;
  /** Each field whose value was cut to maxEntryBytes, with its original size in bytes; empty when none was. */
  readonly truncated: Readonly<Record<string, number>>;
  /** The entry's own fields as kept: at most 32 pairs. */
  readonly fields: FieldPairs;
  /** The stream the entry names (`DataStreamName` of its `lbs-input`), when that decodes. */
  readonly stream: string | undefined;
}

/** A record of the entry dead-letter stream. */
export interface EntryDeadLetter {
  readonly kind: 'entries';
  /** The record's id in the dead-letter stream. */
  readonly id: string;
  /** The data stream the entry was read from. */
  readonly stream: string;
  /** The entry's id in its data stream. */
  readonly entryId: string;
  readonly attempts: number;
  /** The last failure's message. */
  readonly error: string;
  /** The entry's fields. */
  readonly fields: Readonly<Record<string, string>>;
}

/** A record that is not what the library writes (written by hand, or by another program): shown as it is. */
export interface MalformedDeadLetter {
  readonly kind: 'malformed';
  readonly id: string;
  /** What does not match the library's format. */
  readonly problem: string;
  readonly raw: FieldPairs;
}

export type DeadLetter = LbsDeadLetter | EntryDeadLetter | MalformedDeadLetter;

/** A stream entry as XRANGE returns it. */
export interface RawStreamEntry {
  readonly id: string;
  readonly fields: FieldPairs;
}

/** The entries of an XRANGE or XREVRANGE reply (RESP2 or RESP3: both are lists of `[id, [name, value, ...]]`). */
export function parseRange(reply: unknown): RawStreamEntry[] {
  if (!Array.isArray(reply)) throw unexpectedReply(reply);
  return reply.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[1]) || item[1].length % 2 !== 0) throw unexpectedReply(item);
    const [id, flat] = item as [unknown, unknown[]];
    const fields: Array<readonly [string, string]> = [];
    for (let i = 0; i < flat.length; i += 2) fields.push([String(flat[i]), String(flat[i + 1])]);
    return { id: String(id), fields };
  });
}

/** Decodes a record of the dead-letter stream of `kind`; anything unexpected gives a `malformed` record. */
export function decodeDeadLetter(kind: DeadLetterKind, entry: RawStreamEntry): DeadLetter {
  try {
    return kind === 'lbs' ? decodeLbs(entry) : decodeEntry(entry);
  } catch (error) {
    if (!(error instanceof MalformedRecord)) throw error;
    return { kind: 'malformed', id: entry.id, problem: error.message, raw: entry.fields };
  }
}

class MalformedRecord extends Error {}

function fail(problem: string): never {
  throw new MalformedRecord(problem);
}

/** `reason`, `lbs-id`, then `truncated` when a value was cut, then the entry's own fields, in that order. */
function decodeLbs({ id, fields }: RawStreamEntry): LbsDeadLetter {
  const [first, second] = fields;
  if (first?.[0] !== 'reason') fail('its first field is not `reason`');
  if (second?.[0] !== 'lbs-id') fail('its second field is not `lbs-id`');
  if (!isStreamId(second[1])) fail(`its lbs-id ${JSON.stringify(second[1])} is not a stream id`);
  // A first own field named `truncated` whose value reads like the library's own truncation record is taken as
  // one: the worst that does is refuse to requeue an entry that was whole.
  const truncated = fields[2]?.[0] === 'truncated' ? truncationRecord(fields[2][1]) : undefined;
  const own = fields.slice(truncated ? 3 : 2);
  return { kind: 'lbs', id, reason: first[1], lbsId: second[1], truncated: truncated ?? {}, fields: own, stream: streamNamed(own) };
}

/** The sizes in a `truncated` value (a JSON object of non-negative integers), or undefined for anything else. */
function truncationRecord(value: string): Record<string, number> | undefined {
  const document = parseJson(value);
  if (!isPlainObject(document) || Object.keys(document).length === 0) return undefined;
  const sizes = Object.values(document);
  return sizes.every((size) => Number.isSafeInteger(size) && (size as number) >= 0) ? (document as Record<string, number>) : undefined;
}

/** The DataStreamName of an LBS entry's `lbs-input`, when it is JSON naming one. */
export function streamNamed(fields: FieldPairs): string | undefined {
  const input = fields.find(([name]) => name === 'lbs-input');
  const document = input && parseJson(input[1]);
  const name = isPlainObject(document) ? document.DataStreamName : undefined;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** Fields `stream`, `id`, `attempts`, `error` and `fields` (a JSON object of strings); others are ignored. */
function decodeEntry({ id, fields }: RawStreamEntry): EntryDeadLetter {
  const value = (name: string): string => fields.find(([field]) => field === name)?.[1] ?? fail(`it has no field \`${name}\``);
  const stream = value('stream');
  if (stream === '') fail('its stream is empty');
  const entryId = value('id');
  if (!isStreamId(entryId)) fail(`its id ${JSON.stringify(entryId)} is not a stream id`);
  const attempts = Number(value('attempts'));
  if (!Number.isSafeInteger(attempts) || attempts < 1) fail(`its attempts ${JSON.stringify(value('attempts'))} is not a positive integer`);
  const error = value('error');
  const document = parseJson(value('fields'));
  if (!isPlainObject(document)) fail('its fields are not a JSON object');
  if (!Object.values(document).every((field) => typeof field === 'string')) fail('its fields are not all strings');
  return { kind: 'entries', id, stream, entryId, attempts, error, fields: document as Record<string, string> };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unexpectedReply(reply: unknown): RedisStreamClientError {
  const text = JSON.stringify(reply) ?? String(reply);
  return new RedisStreamClientError(`Expected a stream range reply from Redis, got ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`);
}
