/**
 * The operator's work on the two dead-letter streams of a service: list, show, requeue and drop their records.
 * The `rsc dead-letter` commands run these. Every function takes the ids it works on and answers for each of them
 * (found or not, requeued or refused and why), so that a batch with an id not found or refused still does the
 * rest; an argument that is no stream id at all is refused (TypeError) before anything is done.
 */
import { isStreamId } from '../processing/stream-id.js';
import { appendRequeuedEntry } from '../scripts/append-requeued-entry.js';
import { requeueLbsEntry } from '../scripts/requeue-lbs-entry.js';
import { ScriptRunner } from '../scripts/runner.js';
import {
  KEPT_PAIRS,
  decodeDeadLetter,
  parseRange,
  type DeadLetter,
  type DeadLetterKind,
  type EntryDeadLetter,
  type LbsDeadLetter,
} from './dead-letter-records.js';
import { sameSlotTag } from './hash-tag.js';
import type { ServiceRedis } from './service-redis.js';
import { isInService } from './stream-owner.js';

export type { DeadLetter, DeadLetterKind, EntryDeadLetter, LbsDeadLetter, MalformedDeadLetter } from './dead-letter-records.js';

/** How long the marker of a requeued entry dead letter is kept once its record is deleted (s): see
 * requeueDeadLetters. */
export const REQUEUE_MARKER_SECONDS = 24 * 60 * 60;

/** The most records listDeadLetters returns per call. */
export const MAX_LIST_COUNT = 10_000;

export interface ListDeadLettersOptions {
  /** The id of the newest record to list (as listed earlier, or the `next` of the previous page); the newest
   * record of the stream by default. */
  readonly from?: string;
  /** How many records at most, 1 to 10,000. */
  readonly count: number;
}

export interface DeadLetterPage {
  /** Newest first. */
  readonly deadLetters: DeadLetter[];
  /** The `from` of the next page (older records), or undefined when this page reached the oldest record. */
  readonly next: string | undefined;
}

export type ShowOutcome = { readonly id: string; readonly outcome: 'found'; readonly deadLetter: DeadLetter } | { readonly id: string; readonly outcome: 'not-found' };

export type RequeueOutcome =
  /** Added again as `newId`: to the LBS (an LBS dead letter) or to `stream` (an entry dead letter). */
  | { readonly id: string; readonly outcome: 'requeued'; readonly stream: string; readonly newId: string }
  | { readonly id: string; readonly outcome: 'not-found' }
  /** Left in the dead-letter stream, untouched: `reason` says why. */
  | { readonly id: string; readonly outcome: 'refused'; readonly reason: string };

export type DropOutcome = { readonly id: string; readonly outcome: 'dropped' | 'not-found' };

/**
 * A page of the dead-letter stream of `kind`, newest record first (what an operator looks for first is what failed
 * last): from `from` (included) back to older records. Each record is decoded; one that is not in the library's
 * format comes back as `malformed` with its raw fields rather than failing the listing.
 */
export async function listDeadLetters(service: ServiceRedis, kind: DeadLetterKind, { from, count }: ListDeadLettersOptions): Promise<DeadLetterPage> {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_LIST_COUNT) {
    throw new TypeError(`Expected \`count\` to be an integer from 1 to ${MAX_LIST_COUNT}, got ${JSON.stringify(count)}`);
  }
  const key = deadLetterKey(service, kind);
  if (from !== undefined && !isStreamId(from)) throw new TypeError(`Expected \`from\` to be a stream id such as "1700000000000-0", got ${JSON.stringify(from)}`);
  // One more than asked for: its id, if there is one, is where the next page starts.
  const reply = await service.at(key).sendCommand(['XREVRANGE', key, from ?? '+', '-', 'COUNT', String(count + 1)]);
  const entries = parseRange(reply);
  return {
    deadLetters: entries.slice(0, count).map((entry) => decodeDeadLetter(kind, entry)),
    next: entries[count]?.id,
  };
}

/** The records of `ids`, decoded (`malformed` for one not in the library's format); each id not there is
 * answered 'not-found'. */
export async function showDeadLetters(service: ServiceRedis, kind: DeadLetterKind, ids: readonly string[]): Promise<ShowOutcome[]> {
  deadLetterKey(service, kind);
  assertIds(ids);
  return Promise.all(
    ids.map(async (id): Promise<ShowOutcome> => {
      const deadLetter = await readDeadLetter(service, kind, id);
      return deadLetter ? { id, outcome: 'found', deadLetter } : { id, outcome: 'not-found' };
    }),
  );
}

/**
 * Puts records back where they came from, one after the other, never twice.
 *
 * An LBS dead letter goes back onto the LBS as a new entry (a new id, a fresh delivery count), its record deleted
 * in the same script: two operators requeuing it at once add one entry, and the other one is told 'not-found'.
 * The stream is then handed out as if a producer had just added it; a poison stream (its owners died) is
 * delivered again and, if it still kills them, dead-lettered again after maxDeliveries deaths. An entry refused
 * for its content (not JSON, say) is dead-lettered again at once: requeue once the cause outside the entry is
 * fixed (maxEntryBytes raised, the key's type fixed); a content problem needs the producer to add the stream
 * again. Refused: a record whose values were cut (its `truncated` field: the original is lost), one that kept 32
 * fields (the copy's bound: the original may have had more) and one with no field of the entry.
 *
 * An entry dead letter is appended to its data stream again, with a new id: after the entries written since, so
 * it is processed after them, out of its original order, by the stream's owner when it gets there. The data
 * stream may live in another cluster slot than the dead-letter stream, so no single script can append and delete;
 * instead the append records the new id in a marker key in the data stream's slot
 * (`rsc:requeued:<service>:{<stream's tag>}:<record id>`), and a later append for the same record returns the
 * recorded id instead of appending again; then the record is deleted, and only then is the marker given an expiry
 * of a day. A crash in between leaves the record and a marker that does not expire: running the requeue again,
 * however much later, deletes the record without appending a second time; two operators at once append once (the later
 * one finds the marker up to a day after the record went). Refused: a malformed record; a record whose stream no longer
 * exists or holds another type; a stream that is no longer in the service (finished by doneStream or an end
 * marker, or its LBS entry dead-lettered), since nothing would process the entry there (add the stream again
 * first: it then starts over as its `startAt` says, or process the entry yourself); a stream name no key of
 * its slot can be named after (`{}` first, or a `}` without a tag). An entry appended after the stream's end
 * marker, when the marker is already written but not yet reached, is not processed either: the stream finishes
 * at the marker.
 */
export async function requeueDeadLetters(service: ServiceRedis, kind: DeadLetterKind, ids: readonly string[]): Promise<RequeueOutcome[]> {
  deadLetterKey(service, kind);
  assertIds(ids);
  const outcomes: RequeueOutcome[] = [];
  for (const id of ids) {
    const deadLetter = await readDeadLetter(service, kind, id);
    if (!deadLetter) outcomes.push({ id, outcome: 'not-found' });
    else if (deadLetter.kind === 'malformed') outcomes.push(refused(id, `the record is not in the library's format (${deadLetter.problem})`));
    else if (deadLetter.kind === 'lbs') outcomes.push(await requeueLbs(service, deadLetter));
    else outcomes.push(await requeueEntry(service, deadLetter));
  }
  return outcomes;
}

/** Deletes records (XDEL): 'dropped', or 'not-found' for an id not there. */
export async function dropDeadLetters(service: ServiceRedis, kind: DeadLetterKind, ids: readonly string[]): Promise<DropOutcome[]> {
  const key = deadLetterKey(service, kind);
  assertIds(ids);
  const outcomes: DropOutcome[] = [];
  for (const id of ids) {
    const deleted = Number(await service.at(key).sendCommand(['XDEL', key, id]));
    outcomes.push({ id, outcome: deleted === 1 ? 'dropped' : 'not-found' });
  }
  return outcomes;
}

async function requeueLbs(service: ServiceRedis, deadLetter: LbsDeadLetter): Promise<RequeueOutcome> {
  const { id, truncated, fields } = deadLetter;
  const cut = Object.entries(truncated);
  if (cut.length > 0) {
    const sizes = cut.map(([name, size]) => `${name}: ${size} bytes`).join(', ');
    return refused(id, `its values were cut to maxEntryBytes (${sizes}): the original entry is lost; the producer has to add the stream again`);
  }
  if (fields.length === 0) return refused(id, 'the record kept no field of the entry');
  if (fields.length >= KEPT_PAIRS) {
    return refused(id, `the record kept ${KEPT_PAIRS} fields, as many as a dead-letter copy keeps: the original may have had more`);
  }
  const { keys } = service;
  const newId = await requeueLbsEntry(new ScriptRunner(service.at(keys.lbs)), keys, { recordId: id, fields });
  return newId === undefined ? { id, outcome: 'not-found' } : { id, outcome: 'requeued', stream: keys.lbs, newId };
}

async function requeueEntry(service: ServiceRedis, deadLetter: EntryDeadLetter): Promise<RequeueOutcome> {
  const { id, stream } = deadLetter;
  const fields = Object.entries(deadLetter.fields);
  if (fields.length === 0) return refused(id, 'the entry has no field (a stream entry needs one)');
  const tag = sameSlotTag(stream);
  if (tag === undefined) {
    return refused(id, `no key in the slot of stream ${JSON.stringify(stream)} can be named to make the requeue safe (its name has "{}" first, or a "}" and no hash tag): append the entry by hand`);
  }
  const marker = requeueMarkerKey(service.service, tag, id);
  const data = service.at(stream);
  // With a marker, an earlier requeue appended the entry already and only the record is left to delete.
  const appendedBefore = (await data.sendCommand(['EXISTS', marker])) !== 0;
  if (!appendedBefore && !(await isInService(service, stream))) {
    return refused(
      id,
      `stream ${JSON.stringify(stream)} is no longer in the service (finished, or its LBS entry dead-lettered): nothing would process the entry; add the stream again first (it starts over as its startAt says) or process the entry yourself`,
    );
  }
  const appended = await appendRequeuedEntry(new ScriptRunner(data), { marker, stream, fields });
  if (appended.outcome === 'not-a-stream') {
    const what = appended.type === 'none' ? 'no longer exists' : `holds a ${appended.type}, not a stream`;
    return refused(id, `key ${JSON.stringify(stream)} ${what}`);
  }
  const key = service.keys.entryDeadLetter;
  await service.at(key).sendCommand(['XDEL', key, id]);
  // Kept a while yet: an operator who read the record before it was deleted, and appends only now, must find it.
  await data.sendCommand(['EXPIRE', marker, String(REQUEUE_MARKER_SECONDS)]);
  return { id, outcome: 'requeued', stream, newId: appended.id };
}

/** The marker of a requeued entry dead letter: in the data stream's slot (by `tag`), named after the service and
 * the record. Service names hold no braces, so `tag` is the key's hash tag. */
export function requeueMarkerKey(serviceName: string, tag: string, recordId: string): string {
  return `rsc:requeued:${serviceName}:${tag}:${recordId}`;
}

async function readDeadLetter(service: ServiceRedis, kind: DeadLetterKind, id: string): Promise<DeadLetter | undefined> {
  const key = deadLetterKey(service, kind);
  const [entry] = parseRange(await service.at(key).sendCommand(['XRANGE', key, id, id]));
  return entry && decodeDeadLetter(kind, entry);
}

function deadLetterKey({ keys }: ServiceRedis, kind: DeadLetterKind): string {
  if (kind === 'lbs') return keys.deadLetter;
  if (kind === 'entries') return keys.entryDeadLetter;
  throw new TypeError(`Expected \`kind\` to be "lbs" or "entries", got ${JSON.stringify(kind)}`);
}

function refused(id: string, reason: string): RequeueOutcome {
  return { id, outcome: 'refused', reason };
}

/** Every id a stream id (`<ms>-<seq>`), before anything is done: a typo must not leave a batch half done. */
function assertIds(ids: readonly string[]): void {
  if (!Array.isArray(ids)) throw new TypeError(`Expected \`ids\` to be an array of stream ids, got ${JSON.stringify(ids)}`);
  const bad = ids.find((id) => !isStreamId(id));
  if (bad !== undefined) throw new TypeError(`Expected \`ids\` to hold stream ids such as "1700000000000-0", got ${JSON.stringify(bad)}`);
}
