import { expect, it } from 'vitest';
import { RedisStreamClientError, addStream, keysFor, type StreamEntry, type StreamLease } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

/** Reads `lease.entries()` into `into` until the loop ends or `stopAfter` entries were taken. */
async function consume(lease: StreamLease, into: StreamEntry[], stopAfter = Infinity): Promise<'ended' | 'left'> {
  for await (const entry of lease.entries({ commitIntervalMs: 10 })) {
    into.push(entry);
    if (into.length >= stopAfter) return 'left';
  }
  return 'ended';
}

it('yields the entries of a lease in order; asking for the next marks the one before processed', async () => {
  const service = serviceName();
  const stream = `iterated-${service}`;
  const ids = await append(redis.admin, stream, 3);
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  const got: StreamEntry[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const loop = (async () => {
    for await (const entry of lease.entries({ commitIntervalMs: 10 })) {
      got.push(entry);
      if (got.length === 3) await gate;
    }
  })();
  await waitFor(() => got.length === 3);
  // The third entry is being worked on: the position is the second.
  await waitFor(async () => (await client.getPosition(stream)) === ids[1]);
  release();
  await waitFor(async () => (await client.getPosition(stream)) === ids[2]);
  await append(redis.admin, stream, 1, 3);
  await waitFor(() => got.length === 4);
  expect(got.map((entry) => Number(entry.fields.n))).toEqual(upTo(4));
  expect(() => lease.entries()).toThrow(RedisStreamClientError);

  // The loop ends when the stream is finished.
  await client.doneStream(stream);
  await loop;
  expect(client.owned()).toEqual([]);
});

it('leaves the last entry unprocessed when the loop is left early; the lease stays owned', async () => {
  const service = serviceName();
  const stream = `left-${service}`;
  const ids = await append(redis.admin, stream, 5);
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  const got: StreamEntry[] = [];
  await expect(consume(lease, got, 3)).resolves.toBe('left');
  await waitFor(async () => (await client.getPosition(stream)) === ids[1]);
  expect(client.owned()).toEqual([lease]);
  expect(lease.signal.aborted).toBe(false);
  // Nothing else moves it: the entry left (ids[2]) is not marked.
  await client.close();
  expect(await redis.admin.hGet(keysFor(service).positions, stream)).toBe(ids[1]);
});

it('ends the loop when the lease ends, and refuses entries() while run() is registered', async () => {
  const service = serviceName();
  const stream = `ended-${service}`;
  await append(redis.admin, stream, 1);
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  const got: StreamEntry[] = [];
  const loop = consume(lease, got);
  await waitFor(() => got.length === 1);
  await client.close();
  await expect(loop).resolves.toBe('ended');

  const other = serviceName();
  const running = await redis.fleet.consumer({ serviceName: other });
  running.client.run({ eachEntry: () => undefined });
  await addStream(redis.admin, other, stream);
  const processed = await waitFor(() => running.log.added[0]);
  expect(() => processed.entries()).toThrow(/run\(\) is registered/);
});

it("honours entries()'s options: startAt, batchSize and isEnd", async () => {
  const service = serviceName();
  const stream = `options-${service}`;
  await append(redis.admin, stream, 3);
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  const got: StreamEntry[] = [];
  const loop = (async () => {
    for await (const entry of lease.entries({ startAt: 'new', batchSize: 1, isEnd: (e) => e.fields.end === '1' })) got.push(entry);
  })();
  await waitFor(async () => (await client.getPosition(stream)) !== undefined);
  await append(redis.admin, stream, 2, 3);
  await redis.admin.xAdd(stream, '*', { end: '1' });
  await loop;
  expect(got.map((entry) => Number(entry.fields.n))).toEqual([3, 4]);
  expect(client.owned()).toEqual([]);
  expect(() => lease.entries({ batchSize: 0 })).toThrow(/`batchSize`/);
  expect(() => lease.entries({ startAt: 'middle' } as never)).toThrow(/`startAt`/);
});
