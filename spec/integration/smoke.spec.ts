import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { addStream } from '../../lib/index.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { Fleet, serviceName } from '../support/fleet.js';
import { waitFor } from '../support/wait.js';

let server: RedisServer;
let fleet: Fleet;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => server.stop());
afterEach(() => fleet.close());

it('smoke', async () => {
  fleet = new Fleet(server.url);
  const service = serviceName();
  const a = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  const b = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  const producer = await fleet.connect();
  for (let i = 0; i < 20; i++) await addStream(producer, service, `s${i}`, { i });
  await waitFor(() => a.log.added.length + b.log.added.length === 20);
  console.log(a.log.added.length, b.log.added.length, a.log.errors, b.log.errors);
  await a.client.close();
  await waitFor(() => b.log.expired.length === a.log.added.length, { timeoutMs: 3000 });
  for (const e of b.log.expired) await b.client.claim(e);
  expect(b.client.owned()).toHaveLength(20);
  for (const l of b.client.owned()) await b.client.doneStream(l.stream);
  expect(await producer.xLen(`rsc:{${service}}:lbs`)).toBe(0);
});
