import { sessionKey, type ServiceKeys } from './keys.js';
import { errorCode, type RedisCommander } from './redis.js';

/**
 * A service's state as Redis holds it, the same whichever consumer reads it (aggregate with `max`, not `sum`):
 * read with a handful of commands and one per consumer, none of which walks the streams.
 */
export interface ServiceMetrics {
  readonly service: string;
  /** LBS entries no consumer has been given yet: streams waiting to be assigned. */
  readonly undeliveredEntries: number;
  /** Streams still held by consumers whose session has ended: waiting to be taken over. */
  readonly streamsAwaitingTakeover: number;
  /** Entries in the dead-letter streams: of the LBS (malformed, poison) and of data entries whose handler kept failing. */
  readonly deadLetterEntries: { readonly lbs: number; readonly entry: number };
  /** Consumers whose session is live. */
  readonly liveConsumers: number;
}

/**
 * Reads the service's metrics: XLEN (3), XPENDING (its summary), HGETALL of the members, then one EXISTS per consumer
 * known (its session key: the one truth of liveness; the consumers sorted set is re-scored for rechecks), all sent
 * together.
 */
export async function readServiceMetrics(redis: RedisCommander, service: string, keys: ServiceKeys): Promise<ServiceMetrics> {
  const [lbsLength, pending, members, deadLetters, entryDeadLetters] = await Promise.all([
    redis.sendCommand(['XLEN', keys.lbs]),
    pendingSummary(redis, keys),
    redis.sendCommand(['HGETALL', keys.members]) as Promise<string[]>,
    redis.sendCommand(['XLEN', keys.deadLetter]),
    redis.sendCommand(['XLEN', keys.entryDeadLetter]),
  ]);
  const consumers = new Set([...members.filter((_, i) => i % 2 === 0), ...pending.byConsumer.map(([consumer]) => consumer)]);
  const live = new Set<string>();
  await Promise.all(
    [...consumers].map(async (consumer) => {
      if (Number(await redis.sendCommand(['EXISTS', sessionKey(keys, consumer)])) === 1) live.add(consumer);
    }),
  );
  const awaiting = pending.byConsumer.filter(([consumer]) => !live.has(consumer)).reduce((sum, [, count]) => sum + count, 0);
  return {
    service,
    undeliveredEntries: Math.max(0, Number(lbsLength) - pending.total),
    streamsAwaitingTakeover: awaiting,
    deadLetterEntries: { lbs: Number(deadLetters), entry: Number(entryDeadLetters) },
    liveConsumers: live.size,
  };
}

/** XPENDING's summary: how many entries are pending, and under which consumer (none before the group exists). */
export async function pendingSummary(redis: RedisCommander, keys: ServiceKeys): Promise<{ total: number; byConsumer: Array<[string, number]> }> {
  try {
    const [total, , , consumers] = (await redis.sendCommand(['XPENDING', keys.lbs, keys.group])) as [number, unknown, unknown, Array<[string, string]> | null];
    return { total: Number(total), byConsumer: (consumers ?? []).map(([consumer, count]) => [consumer, Number(count)]) };
  } catch (error) {
    if (errorCode(error) === 'NOGROUP') return { total: 0, byConsumer: [] };
    throw error;
  }
}
