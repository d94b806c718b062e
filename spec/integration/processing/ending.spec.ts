import { expect, it } from 'vitest';
import { addStream, keysFor, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('finishes a stream at its end marker (not handed to the handler) once every entry before it is processed', async () => {
  const service = serviceName();
  const stream = `marked-${service}`;
  await append(redis.admin, stream, 3);
  await redis.admin.xAdd(stream, '*', { end: 'yes' });
  await append(redis.admin, stream, 2, 3);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record, isEnd: (entry) => entry.fields.end === 'yes' });
  await addStream(redis.admin, service, stream);
  await waitFor(async () => (await redis.admin.xLen(keysFor(service).lbs)) === 0);
  expect(seen.numbers(stream)).toEqual(upTo(3));
  expect(client.owned()).toEqual([]);
  expect(await client.getPosition(stream)).toBeUndefined();
});

it('delivers nothing more of a stream whose handler called doneStream, without waiting for that handler', async () => {
  const service = serviceName();
  const stream = `done-${service}`;
  await append(redis.admin, stream, 5);
  const seen = new Seen();
  let finished = false;
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    eachEntry: async (entry) => {
      seen.record(entry);
      if (entry.fields.n === '2') {
        await client.doneStream(entry.stream);
        finished = true;
      }
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => finished);
  await append(redis.admin, stream, 1, 5);
  await waitFor(async () => (await redis.admin.xLen(keysFor(service).lbs)) === 0);
  expect(seen.numbers(stream)).toEqual(upTo(3));
});

it('trims processed entries up to the committed position with trim: true', async () => {
  const service = serviceName();
  const stream = `trimmed-${service}`;
  const ids = await append(redis.admin, stream, 10);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record, trim: true, commitIntervalMs: 10 });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 10);
  await waitFor(async () => (await redis.admin.xLen(stream)) === 0);
  expect(await client.getPosition(stream)).toBe(ids[9]);
  const more = await append(redis.admin, stream, 2, 10);
  await waitFor(async () => (await redis.admin.xLen(stream)) === 0);
  expect(seen.numbers(stream)).toEqual(upTo(12));
  expect(await client.getPosition(stream)).toBe(more[1]);
});

it('done() under run() waits for the handlers under way, then finishes every owned stream', async () => {
  const service = serviceName();
  const stream = `all-done-${service}`;
  await append(redis.admin, stream, 1);
  let release!: () => void;
  let ended = false;
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({
    eachEntry: async () => {
      await new Promise<void>((resolve) => (release = resolve));
      ended = true;
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => release !== undefined);
  const done = client.done({ timeoutMs: 5000 });
  setTimeout(() => release(), 50);
  await done;
  expect(ended).toBe(true);
  expect(await redis.admin.xLen(keysFor(service).lbs)).toBe(0);
  expect(await redis.admin.hLen(keysFor(service).positions)).toBe(0);
});

it('a stream finished by its end marker or by doneStream from a handler keeps no position, and starts afresh when added again', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const [byMarker, byHandler, busy] = ['by-marker', 'by-handler', 'busy'].map((name) => `${service}:${name}`) as [string, string, string];
  for (const stream of [byMarker, byHandler, busy]) for (let n = 1; n <= 3; n++) await redis.admin.xAdd(stream, '*', { n: String(n) });
  await redis.admin.xAdd(byMarker, '*', { end: '1' });
  const seen: StreamEntry[] = [];
  const { client } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  client.run({
    isEnd: (entry) => entry.fields.end !== undefined,
    eachEntry: async (entry) => {
      seen.push(entry);
      if (entry.stream === byHandler && entry.fields.n === '3') await client.doneStream(byHandler);
    },
  });
  await client.init();
  for (const stream of [byMarker, byHandler, busy]) await client.addStream(stream);
  await waitFor(async () => (await redis.admin.xLen(keys.lbs)) === 1, { message: 'two streams finished' });

  // A later commit of another stream: everything processed before it has been committed by then.
  const last = await redis.admin.xAdd(busy, '*', { n: '4' });
  await waitFor(async () => (await client.getPosition(busy)) === last);
  expect(Object.keys(await redis.admin.hGetAll(keys.positions))).toEqual([busy]);
  expect(Object.keys(await redis.admin.hGetAll(keys.positionTokens))).toEqual([busy]);

  // Added again: processed from its first entry (startAt 'first'), not after the old position.
  const before = seen.length;
  await client.addStream(byHandler);
  await waitFor(() => seen.length >= before + 3, { message: 'the stream added again is processed from its first entry' });
  expect(seen.slice(before).map((entry) => entry.fields.n)).toEqual(['1', '2', '3']);
});

it('a stream whose key holds another type is dead-lettered and keeps no position token', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const stream = `${service}:not-a-stream`;
  await redis.admin.set(stream, 'text');
  const { client, log } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  client.run({ eachEntry: () => undefined });
  await client.init();
  await client.addStream(stream);
  await waitFor(async () => (await redis.admin.xLen(keys.deadLetter)) === 1);
  await waitFor(() => client.owned().length === 0);
  expect(log.errors.map((error) => error.name).sort()).toEqual(['DeadLetterError', 'StreamProcessingError']);
  expect(await redis.admin.hGetAll(keys.positionTokens)).toEqual({});
});

it('leaves no position behind when a consumer that took streams over from a closed one calls done()', async () => {
  const service = serviceName();
  const streams = upTo(6).map((i) => `${service}:shared-${i}`);
  for (const stream of streams) await append(redis.admin, stream, 5);
  const seen = new Seen();
  const a = await redis.fleet.consumer({ serviceName: service, autoClaim: true, heartbeatMs: 1000 });
  const b = await redis.fleet.consumer({ serviceName: service, autoClaim: true, heartbeatMs: 1000 });
  for (const { client } of [a, b]) client.run({ eachEntry: seen.record, commitIntervalMs: 50 });
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 30);
  await a.client.close();
  await waitFor(() => b.client.owned().length === 6);
  await b.client.done();
  const keys = keysFor(service);
  expect(await redis.admin.xLen(keys.lbs)).toBe(0);
  expect(await redis.admin.hGetAll(keys.positions)).toEqual({});
  expect(await redis.admin.hGetAll(keys.positionTokens)).toEqual({});
});
