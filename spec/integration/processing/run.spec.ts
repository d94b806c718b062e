import { expect, it } from 'vitest';
import { ConfigError, NotRunningError, RedisStreamClientError, addStream, keysFor, type StreamBatch } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('processes the entries of every owned stream in order, whether run() comes before or after init()', async () => {
  const service = serviceName();
  await append(redis.admin, 'a', 5);
  await append(redis.admin, 'b', 5);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  client.run({ eachEntry: seen.record });
  await client.init();
  await addStream(redis.admin, service, 'a');
  await addStream(redis.admin, service, 'b');
  await waitFor(() => seen.count === 10);
  // Written after the streams are owned: announced, read at once.
  await append(redis.admin, 'a', 1, 5);
  await waitFor(() => seen.count === 11);
  expect(seen.numbers('a')).toEqual(upTo(6));
  expect(seen.numbers('b')).toEqual(upTo(5));
  expect(seen.entries.every((entry) => entry.attempt === 1 && entry.token > 0)).toBe(true);
  const last = seen.of('a').at(-1)!.id;
  await waitFor(async () => (await client.getPosition('a')) === last);
  expect(await redis.admin.hGet(keysFor(service).positions, 'a')).toBe(last);

  // run() after init(): the streams already owned are processed too.
  const later = serviceName();
  const second = await redis.fleet.consumer({ serviceName: later });
  await addStream(redis.admin, later, 'a');
  await waitFor(() => second.log.added.length === 1);
  const seenLater = new Seen();
  second.client.run({ eachEntry: seenLater.record });
  await waitFor(() => seenLater.count === 6);
  expect(seenLater.numbers('a')).toEqual(upTo(6));
});

it('keeps each stream in order while processing many streams at once, at most `concurrency` at a time', async () => {
  const service = serviceName();
  const streams = upTo(40).map((i) => `many-${service}-${i}`);
  for (const stream of streams) await append(redis.admin, stream, 20);
  let running = 0;
  let most = 0;
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    concurrency: 4,
    eachEntry: async (entry) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      seen.record(entry);
      running -= 1;
    },
  });
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 800, { timeoutMs: 20_000 });
  for (const stream of streams) expect(seen.numbers(stream)).toEqual(upTo(20));
  expect(most).toBe(4);
});

it('hands eachBatch up to batchSize consecutive entries of one stream, in order', async () => {
  const service = serviceName();
  const stream = `batched-${service}`;
  await append(redis.admin, stream, 25);
  const batches: StreamBatch[] = [];
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({ batchSize: 10, eachBatch: (batch) => void batches.push(batch) });
  await addStream(redis.admin, service, stream);
  await waitFor(() => batches.flatMap((batch) => batch.entries).length === 25);
  expect(batches.every((batch) => batch.entries.length <= 10 && batch.stream === stream && batch.token > 0)).toBe(true);
  expect(batches.flatMap((batch) => batch.entries.map((entry) => Number(entry.fields.n)))).toEqual(upTo(25));
  await waitFor(async () => (await client.getPosition(stream)) === batches.at(-1)!.entries.at(-1)!.id);
});

it('hands over fields as strings, a repeated name keeping its last value, and __proto__ as data', async () => {
  const service = serviceName();
  const stream = `fields-${service}`;
  await redis.admin.sendCommand(['XADD', stream, '*', 'a', '1', 'a', '2', '__proto__', '{"polluted":true}', 'empty', '']);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 1);
  const { fields } = seen.entries[0]!;
  expect(Object.keys(fields)).toEqual(['a', '__proto__', 'empty']);
  expect(fields.a).toBe('2');
  expect(Object.getOwnPropertyDescriptor(fields, '__proto__')?.value).toBe('{"polluted":true}');
  expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

it('refuses run() twice, after close(), without exactly one handler, and with a bad option named', async () => {
  const { client } = await redis.fleet.consumer({ serviceName: serviceName() }, { start: false });
  const eachEntry = (): void => undefined;
  expect(() => client.run({} as never)).toThrow(TypeError);
  expect(() => client.run({ eachEntry, eachBatch: () => undefined })).toThrow(TypeError);
  expect(() => client.run({ eachEntry, concurrency: 0 })).toThrow(ConfigError);
  expect(() => client.run({ eachEntry, concurrency: 0 })).toThrow(/`concurrency`/);
  expect(() => client.run({ eachEntry, startAt: 'last' as never })).toThrow(/`startAt`/);
  expect(() => client.run({ eachEntry, eachEntryy: eachEntry } as never)).toThrow(/`eachEntryy`/);
  expect(() => client.run({ eachEntry: 'nope' as never })).toThrow(/`eachEntry`/);
  client.run({ eachEntry });
  expect(() => client.run({ eachEntry })).toThrow(RedisStreamClientError);
  await client.init();
  await client.close();
  const { client: closed } = await redis.fleet.consumer({ serviceName: serviceName() });
  await closed.close();
  expect(() => closed.run({ eachEntry })).toThrow(NotRunningError);
});

it('reads any number of streams on two connections of its own: one for reading, one for announcements', async () => {
  const service = serviceName();
  const streams = upTo(200).map((i) => `wide-${service}-${i}`);
  for (const stream of streams) await append(redis.admin, stream, 1);
  const named = async (): Promise<number> =>
    String(await redis.admin.sendCommand(['CLIENT', 'LIST']))
      .split('\n')
      .filter((line) => line.includes(` name=${service} `)).length;
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service }, { clientName: service });
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => client.owned().length === 200);
  const before = await named();
  client.run({ eachEntry: seen.record });
  await waitFor(() => seen.count === 200);
  for (const stream of streams) await append(redis.admin, stream, 1, 1);
  await waitFor(() => seen.count === 400);
  expect((await named()) - before).toBe(2);
});
