import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { StreamLease } from '../../lib/index.js';
import { Fleet, serviceName } from '../support/fleet.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

let server: RedisServer;
let fleet: Fleet;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => server.stop());
beforeEach(() => {
  fleet = new Fleet(server.url);
});
afterEach(() => fleet.close());

it('client.once() gets the first stream only and is removed; client.on() runs with its context as `this`', async () => {
  const { client, log } = await fleet.consumer({ serviceName: serviceName() });
  const first: string[] = [];
  const context = { seen: [] as string[] };
  client.once('streamAdded', (lease) => void first.push(lease.stream));
  client.on('streamAdded', function (this: typeof context, lease: StreamLease) {
    this.seen.push(lease.stream);
  }, context);
  await client.addStream('s1');
  await client.addStream('s2');
  await waitFor(() => log.added.length === 2);
  expect(first).toHaveLength(1);
  expect(context.seen.sort()).toEqual(['s1', 's2']);
  // The fleet's recorder and the context listener remain.
  expect(client.listenerCount('streamAdded')).toBe(2);
  expect(log.errors).toEqual([]);
});
