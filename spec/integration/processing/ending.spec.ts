import { expect, it } from 'vitest';
import { addStream, keysFor } from '../../../lib/index.js';
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
