/**
 * Dead letters as the library writes them, for the specs of the operator's dead-letter tools (lib/admin and the
 * `rsc dead-letter` command): entries a running consumer dead-lettered, not records written by hand.
 */
import { addStream, keysFor } from '../../lib/index.js';
import type { Fleet, NodeRedis } from './fleet.js';
import { Seen, append } from './processing.js';
import type { SpecRedis } from './use-redis-server.js';
import { waitFor } from './wait.js';

/** Ids of the records of a dead-letter stream, oldest first, once there are `count` of them. */
export async function deadLetterIds(redis: NodeRedis, key: string, count: number): Promise<string[]> {
  return waitFor(async () => {
    const ids = (await redis.xRange(key, '-', '+')).map((entry) => entry.id);
    return ids.length === count && ids;
  });
}

/** A consumer `worker-1` processing every stream it owns with run(): entries whose `n` is in `failing` throw
 * (maxAttempts 1, so they are dead-lettered at once); what it processed is in `seen`. It connects through `fleet`,
 * or uses `on` (a cluster client, say). */
export async function processingConsumer(fleet: Fleet, service: string, failing: Set<string>, on?: Parameters<Fleet['consumerOn']>[0]) {
  const seen = new Seen();
  const options = { serviceName: service, consumerId: 'worker-1', heartbeatMs: 1000 };
  const { client } = on ? await fleet.consumerOn(on, options) : await fleet.consumer(options);
  client.run({
    maxAttempts: 1,
    commitIntervalMs: 20,
    eachEntry: (entry) => {
      if (failing.has(entry.fields.n!)) throw new Error(`cannot handle n=${entry.fields.n}`);
      seen.record(entry);
    },
  });
  return { client, seen };
}

/** An entry of `stream` (its second, `n=1`, of three) dead-lettered by a running owner, which goes on processing
 * the stream (and would now handle `n=1`). */
export async function entryDeadLetter(redis: SpecRedis, service: string, stream: string) {
  const failing = new Set(['1']);
  const consumer = await processingConsumer(redis.fleet, service, failing);
  const ids = await append(redis.admin, stream, 3);
  await addStream(redis.admin, service, stream);
  await waitFor(() => consumer.seen.count === 2);
  const [recordId] = await deadLetterIds(redis.admin, keysFor(service).entryDeadLetter, 1);
  failing.clear();
  return { ...consumer, ids, recordId: recordId! };
}
