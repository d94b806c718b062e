import { expect, it } from 'vitest';
import { DeadLetterError, StreamProcessingError, addStream, keysFor } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it("dead-letters a stream name in the library's own key space at grant time; addStream refuses it", async () => {
  const service = serviceName();
  const keys = keysFor(service);
  await expect(addStream(redis.admin, service, keys.lbs)).rejects.toThrow(TypeError);
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record, trim: true });
  // A producer that does not go through addStream.
  await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: keys.lbs }) });
  await waitFor(() => log.errors.some((error) => error instanceof DeadLetterError));
  expect(log.errors[0]!.message).toMatch(/own key space/);
  expect(log.added).toEqual([]);
  expect(await redis.admin.xLen(keys.lbs)).toBe(0);
  expect(await redis.admin.xLen(keys.deadLetter)).toBe(1);
});

it('reports a stream whose key holds another type, dead-letters its LBS entry, and goes on with the others', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const hash = `hash-${service}`;
  const good = `good-${service}`;
  await redis.admin.hSet(hash, 'not', 'a stream');
  await append(redis.admin, good, 2);
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, hash);
  await addStream(redis.admin, service, good);
  await waitFor(() => seen.count === 2 && log.errors.some((error) => error instanceof DeadLetterError));
  const report = log.errors.find((error) => error instanceof StreamProcessingError);
  expect(report).toMatchObject({ stream: hash });
  expect(client.owned().map((lease) => lease.stream)).toEqual([good]);
  const [dead] = await redis.admin.xRange(keys.deadLetter, '-', '+');
  expect(dead!.message.reason).toMatch(/another type/);
  expect(await redis.admin.hGetAll(hash)).toEqual({ not: 'a stream' });
});
