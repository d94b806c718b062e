import { sessionKey } from '../keys.js';
import { parseRange, streamNamed } from './dead-letter-records.js';
import type { ServiceRedis } from './service-redis.js';

/** The consumer that owns a stream now. */
export interface StreamOwner {
  readonly consumerId: string;
  /** The LBS entry through which it owns the stream. */
  readonly lbsId: string;
  /** Whether its session is live; false for a consumer that died or stopped and whose streams wait to be claimed. */
  readonly live: boolean;
}

/** LBS entries read per call while looking for a stream's entry. */
const SCAN_PAGE = 500;

/** Who owns `stream`: the consumer its recorded LBS entry is pending under, or undefined when nobody does. */
export async function currentOwner(service: ServiceRedis, stream: string): Promise<StreamOwner | undefined> {
  const { keys } = service;
  const redis = service.at(keys.lbs);
  const lbsId = await redis.sendCommand(['HGET', keys.owners, stream]);
  if (typeof lbsId !== 'string') return undefined;
  const entry = await pendingEntry(service, lbsId);
  if (!entry) return undefined;
  const live = Number(await redis.sendCommand(['EXISTS', sessionKey(keys, entry.owner)])) === 1;
  return { consumerId: entry.owner, lbsId, live };
}

/** The LBS entry `lbsId` as the group's pending entries list has it: its consumer, how long it has been pending
 * there and how many times it was delivered; undefined when it is not pending (finished, or no group: a Redis that
 * lost its data). */
export async function pendingEntry(
  service: ServiceRedis,
  lbsId: string,
): Promise<{ owner: string; idleMs: number; deliveries: number } | undefined> {
  const { keys } = service;
  let reply: unknown;
  try {
    reply = await service.at(keys.lbs).sendCommand(['XPENDING', keys.lbs, keys.group, lbsId, lbsId, '1']);
  } catch (error) {
    if (error instanceof Error && /^NOGROUP|no such key/i.test(error.message)) return undefined;
    throw error;
  }
  const [, owner, idle, deliveries] = (Array.isArray(reply) && Array.isArray(reply[0]) ? reply[0] : []) as unknown[];
  return owner === undefined ? undefined : { owner: String(owner), idleMs: Number(idle), deliveries: Number(deliveries) };
}

/**
 * Whether the service will go on processing `stream`: an owner holds it, or an entry of the LBS names it (not yet
 * handed out). False once it was finished (doneStream, an end marker) or its LBS entry dead-lettered. Reads the
 * LBS a page at a time when nobody owns the stream: it holds one entry per stream in the service.
 */
export async function isInService(service: ServiceRedis, stream: string): Promise<boolean> {
  if (await currentOwner(service, stream)) return true;
  const { keys } = service;
  const redis = service.at(keys.lbs);
  let start = '-';
  for (;;) {
    const page = parseRange(await redis.sendCommand(['XRANGE', keys.lbs, start, '+', 'COUNT', String(SCAN_PAGE)]));
    if (page.some((entry) => streamNamed(entry.fields) === stream)) return true;
    if (page.length < SCAN_PAGE) return false;
    start = `(${page[page.length - 1]!.id}`;
  }
}
