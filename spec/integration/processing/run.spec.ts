import { expect, it } from 'vitest';
import { addStream, keysFor, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('processes the entries of every owned stream in order, whether run() comes before or after init()', async () => {
  const service = serviceName();
  for (const stream of ['a', 'b']) for (let i = 0; i < 5; i += 1) await redis.admin.xAdd(stream, '*', { n: String(i) });
  const seen: StreamEntry[] = [];
  const { client } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  client.run({ eachEntry: (entry) => void seen.push(entry) });
  await client.init();
  await addStream(redis.admin, service, 'a');
  await addStream(redis.admin, service, 'b');
  await waitFor(() => seen.length === 10);
  // Written after the streams are owned: announced, read at once.
  await redis.admin.xAdd('a', '*', { n: '5' });
  await waitFor(() => seen.length === 11);
  for (const stream of ['a', 'b']) {
    const mine = seen.filter((entry) => entry.stream === stream);
    expect(mine.map((entry) => entry.fields.n)).toEqual(stream === 'a' ? ['0', '1', '2', '3', '4', '5'] : ['0', '1', '2', '3', '4']);
    expect(mine.every((entry) => entry.attempt === 1 && entry.token > 0)).toBe(true);
  }
  const last = seen.filter((entry) => entry.stream === 'a').at(-1)!.id;
  await waitFor(async () => (await client.getPosition('a')) === last);
  expect(await redis.admin.hGet(keysFor(service).positions, 'a')).toBe(last);
});
