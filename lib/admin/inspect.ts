import { sessionKey } from '../keys.js';
import { idTime } from '../processing/stream-id.js';
import { pendingSummary, readServiceMetrics, type ServiceMetrics } from '../service-metrics.js';
import type { ServiceRedis } from './service-redis.js';
import { pendingEntry } from './stream-owner.js';

/** One consumer as Redis records it. Times are the Redis server's clock (ms since the epoch). */
export interface ConsumerInspection {
  readonly id: string;
  /** Its session key exists: the one truth of liveness. */
  readonly alive: boolean;
  /** What is left of its session (PTTL of the session key); null when the key is gone (or has no expiry: the
   * marker a `close({ restart: true })` leaves is replaced on the next start). */
  readonly sessionMsLeft: number | null;
  /** When its session ends unless it heartbeats again (its score in the consumers sorted set while alive); null for a
   * consumer that is not alive. Each heartbeat moves it to the server's time then plus the consumer's session TTL,
   * which Redis does not record: the last heartbeat itself cannot be told from it. */
  readonly sessionDeadline: number | null;
  /** When its session ended, as the heartbeat sweep that found it dead recorded it (the `ended` hash); null while
   * alive, or before any sweep. */
  readonly sessionEndedAt: number | null;
  /** LBS entries pending under it: the streams it owns (held, for a dead consumer, until they are taken over). */
  readonly owned: number;
  /** From its member record; null when it has none (a dead consumer forgotten by the fleet, say). */
  readonly weight: number | null;
  /** Its `maxStreams`; null when unlimited or unknown. */
  readonly maxStreams: number | null;
  readonly mode: 'auto' | 'manual' | null;
  readonly draining: boolean | null;
  /** When its live incarnation registered (the `started` hash). */
  readonly startedAt: number | null;
}

/** One stream the service knows (owned, or with a position). */
export interface StreamInspection {
  readonly name: string;
  /** The consumer its LBS entry is pending under; null when nobody owns it. */
  readonly owner: string | null;
  /** The owner's session is live; false for a stream awaiting takeover (and for an unowned one). */
  readonly ownerAlive: boolean;
  /** The LBS entry through which it is owned (the `owners` hash). */
  readonly lbsId: string | null;
  /** How long its LBS entry has been pending under its owner (XPENDING idle): the time owned by this owner. */
  readonly ownedMs: number | null;
  /** How many times the LBS entry was delivered (1 unless it was taken over or handed on). */
  readonly deliveries: number | null;
  /** The fencing token of the last owner that opened or wrote its position (`position-tokens`): a write with a lower
   * token is refused. Null for a stream nobody processes with `run()` or `lease.entries()`: Redis records no token
   * for a lease otherwise. */
  readonly token: number | null;
  /** The id of its last processed entry (`positions`); null when not processed. */
  readonly position: string | null;
  /** Server time now less the time in the id of the first entry after the position; 0 when there is none (caught
   * up); null when not processed. */
  readonly lagMs: number | null;
}

export interface ServiceInspection {
  readonly service: string;
  /** The service's LBS exists: a consumer has started, or a stream was added. False for a name no service uses (a
   * mistyped --service, another database). */
  readonly found: boolean;
  /** The server's clock when read (TIME), the base of every duration here. */
  readonly serverTime: number;
  /** Every consumer Redis knows of, by id. */
  readonly consumers: ConsumerInspection[];
  /** How many streams the service knows of (owned or with a position); `streams` lists the first `limit`. */
  readonly streamCount: number;
  /** The first `limit` streams, by name (code unit order, the same on every machine: no locale). */
  readonly streams: StreamInspection[];
  /** Backlog, streams awaiting takeover, dead-letter counts, live consumers. */
  readonly metrics: ServiceMetrics;
}

export interface InspectOptions {
  /** At most this many streams are looked at (and listed), the first by name: the cost of a reading is bounded by
   * it, whatever the number of streams. */
  readonly limit: number;
}

/**
 * Reads a service's state with read-only commands: a fixed handful for the service (HGETALL of the members,
 * owners, started and ended hashes, HKEYS of the positions, ZRANGE of the consumers, XPENDING's summary, TIME,
 * EXISTS of the LBS, and readServiceMetrics), one
 * PTTL per consumer, HMGET of the positions and tokens of the streams listed, and two commands per stream listed
 * (XPENDING of its LBS entry, XRANGE after its position), all sent together.
 */
export async function inspectService(redis: ServiceRedis, { limit }: InspectOptions): Promise<ServiceInspection> {
  const { keys } = redis;
  const service = redis.at(keys.lbs);
  const hash = async (key: string): Promise<Map<string, string>> => pairs((await service.sendCommand(['HGETALL', key])) as string[]);
  const [time, lbsExists, metrics, pending, members, deadlines, started, ended, owners, positionNames] = await Promise.all([
    service.sendCommand(['TIME']) as Promise<[string, string]>,
    service.sendCommand(['EXISTS', keys.lbs]),
    readServiceMetrics(service, redis.service, keys),
    pendingSummary(service, keys),
    hash(keys.members),
    service.sendCommand(['ZRANGE', keys.consumers, '0', '-1', 'WITHSCORES']).then((reply) => pairs(reply as string[])),
    hash(keys.started),
    hash(keys.ended),
    hash(keys.owners),
    service.sendCommand(['HKEYS', keys.positions]) as Promise<string[]>,
  ]);
  const serverTime = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const owned = new Map(pending.byConsumer);

  const ids = [...new Set([...members.keys(), ...deadlines.keys(), ...owned.keys()])].sort();
  const consumers = await Promise.all(
    ids.map(async (id): Promise<ConsumerInspection> => {
      const ttl = Number(await service.sendCommand(['PTTL', sessionKey(keys, id)]));
      const alive = ttl !== -2;
      const record = memberRecord(members.get(id));
      return {
        id,
        alive,
        sessionMsLeft: ttl >= 0 ? ttl : null,
        sessionDeadline: alive ? numberOrNull(deadlines.get(id)) : null,
        sessionEndedAt: alive ? null : numberOrNull(ended.get(id)),
        owned: owned.get(id) ?? 0,
        weight: record?.weight ?? null,
        maxStreams: record?.max ?? null,
        mode: record ? (record.auto ? 'auto' : 'manual') : null,
        draining: record?.draining ?? null,
        startedAt: numberOrNull(started.get(id)),
      };
    }),
  );
  const live = new Set(consumers.filter((consumer) => consumer.alive).map((consumer) => consumer.id));

  const names = [...new Set([...owners.keys(), ...positionNames])].sort();
  const listed = names.slice(0, limit);
  const [positions, tokens] = listed.length === 0
    ? [[], []]
    : await Promise.all([
        service.sendCommand(['HMGET', keys.positions, ...listed]) as Promise<Array<string | null>>,
        service.sendCommand(['HMGET', keys.positionTokens, ...listed]) as Promise<Array<string | null>>,
      ]);
  const streams = await Promise.all(
    listed.map(async (name, i): Promise<StreamInspection> => {
      const lbsId = owners.get(name) ?? null;
      const position = positions[i] ?? null;
      const [entry, lagMs] = await Promise.all([
        lbsId === null ? undefined : pendingEntry(redis, lbsId),
        position === null ? null : lagAfter(redis, name, position, serverTime),
      ]);
      const owner = entry?.owner ?? null;
      return {
        name,
        owner,
        ownerAlive: owner !== null && live.has(owner),
        lbsId: entry ? lbsId : null,
        ownedMs: entry?.idleMs ?? null,
        deliveries: entry?.deliveries ?? null,
        token: numberOrNull(tokens[i] ?? undefined),
        position,
        lagMs,
      };
    }),
  );
  return { service: redis.service, found: Number(lbsExists) === 1, serverTime, consumers, streamCount: names.length, streams, metrics };
}

/** How long the first entry after `position` has waited (by the time in its id); 0 when there is none. */
async function lagAfter(redis: ServiceRedis, stream: string, position: string, now: number): Promise<number> {
  const reply = (await redis.at(stream).sendCommand(['XRANGE', stream, `(${position}`, '+', 'COUNT', '1'])) as Array<[string, unknown]>;
  const next = reply[0]?.[0];
  return next === undefined ? 0 : Math.max(0, now - idTime(next));
}

function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!);
  return map;
}

function numberOrNull(value: string | undefined): number | null {
  return value === undefined ? null : Number(value);
}

interface MemberRecord {
  weight?: number;
  max?: number;
  auto?: boolean;
  draining?: boolean;
}

/** The member record (see membership.ts); undefined when absent or not the JSON object the consumers write. */
function memberRecord(text: string | undefined): MemberRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const record: unknown = JSON.parse(text);
    return typeof record === 'object' && record !== null && !Array.isArray(record) ? (record as MemberRecord) : undefined;
  } catch {
    return undefined;
  }
}
