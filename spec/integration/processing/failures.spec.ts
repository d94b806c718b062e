import { expect, it } from 'vitest';
import { EntryDeadLetterError, addStream, keysFor, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('retries a failing entry up to maxAttempts calls, then dead-letters it, reports it, and goes on with the stream', async () => {
  const service = serviceName();
  const stream = `failing-${service}`;
  const ids = await append(redis.admin, stream, 3);
  const calls: StreamEntry[] = [];
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    maxAttempts: 3,
    eachEntry: (entry) => {
      calls.push(entry);
      if (entry.fields.n === '1') throw new Error(`cannot handle ${entry.id}`);
      seen.record(entry);
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 2);
  expect(calls.filter((entry) => entry.id === ids[1]).map((entry) => entry.attempt)).toEqual([1, 2, 3]);
  expect(seen.numbers(stream)).toEqual([0, 2]);

  const reported = log.errors.filter((error) => error instanceof EntryDeadLetterError);
  expect(reported).toHaveLength(1);
  expect(reported[0]).toMatchObject({ stream, id: ids[1], attempts: 3 });
  expect((reported[0]!.cause as Error).message).toBe(`cannot handle ${ids[1]}`);
  const [dead] = await redis.admin.xRange(keysFor(service).entryDeadLetter, '-', '+');
  expect(dead!.message).toEqual({ stream, id: ids[1], attempts: '3', error: `cannot handle ${ids[1]}`, fields: '{"n":"1"}' });
  // The dead-lettered entry counts as processed: the position moves past it.
  await waitFor(async () => (await client.getPosition(stream)) === ids[2]);
});

it('neither retries nor dead-letters a handler that failed because its lease ended', async () => {
  const service = serviceName();
  const stream = `aborted-${service}`;
  await append(redis.admin, stream, 1);
  let calls = 0;
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    maxAttempts: 1,
    eachEntry: async (_entry, lease) => {
      calls += 1;
      await new Promise((_, reject) => lease.signal.addEventListener('abort', () => reject(lease.signal.reason)));
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => calls === 1);
  await client.close({ timeoutMs: 100 });
  expect(calls).toBe(1);
  expect(log.errors.filter((error) => error instanceof EntryDeadLetterError)).toEqual([]);
  expect(await redis.admin.exists(keysFor(service).entryDeadLetter)).toBe(0);
});

it('retries a failing eachBatch whole, then dead-letters each of its entries', async () => {
  const service = serviceName();
  const stream = `batch-failing-${service}`;
  const ids = await append(redis.admin, stream, 3);
  let calls = 0;
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    maxAttempts: 2,
    eachBatch: (batch) => {
      calls += 1;
      expect(batch.entries.map((entry) => entry.attempt)).toEqual(batch.entries.map(() => calls));
      throw new Error('batch refused');
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => log.errors.filter((error) => error instanceof EntryDeadLetterError).length === 3);
  expect(calls).toBe(2);
  const dead = await redis.admin.xRange(keysFor(service).entryDeadLetter, '-', '+');
  expect(dead.map((entry) => entry.message.id)).toEqual(ids);
  await waitFor(async () => (await client.getPosition(stream)) === ids[2]);
});

it('keeps an entry that cannot be dead-lettered (the write fails) until it can: the position never skips it', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const stream = `undeliverable-${service}`;
  const ids = await append(redis.admin, stream, 2);
  // The dead-letter stream's key holds a string: every XADD to it fails.
  await redis.admin.set(keys.entryDeadLetter, 'in the way');
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    maxAttempts: 1,
    commitIntervalMs: 10,
    eachEntry: (entry) => {
      if (entry.fields.n === '0') throw new Error('poison');
      seen.record(entry);
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => log.errors.some((error) => /WRONGTYPE/.test(error.message)));
  expect(seen.count).toBe(0);
  expect(await client.getPosition(stream)).toBeUndefined();

  await redis.admin.del(keys.entryDeadLetter);
  await waitFor(() => seen.count === 1);
  await waitFor(async () => (await client.getPosition(stream)) === ids[1]);
  expect((await redis.admin.xRange(keys.entryDeadLetter, '-', '+')).map((entry) => entry.message.id)).toEqual([ids[0]]);
});
