import { afterEach, expect, it } from 'vitest';
import { RedisStreamClientError, addStream } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

// init(), close() and done() each wait for Redis a bounded time, whatever state Redis is in.

const redis = useRedisServer();
// Runs before the frame closes the test's consumers (after-hooks run in reverse order), so that they close promptly.
afterEach(() => redis.server.cli('CLIENT', 'UNPAUSE'));

/** Resolves with how long `promise` took to settle, in ms. */
async function settleTime(promise: Promise<unknown>): Promise<number> {
  const startedAt = performance.now();
  await promise.catch(() => undefined);
  return performance.now() - startedAt;
}

it('rejects init() within its timeout when Redis stops answering part-way, and init() may be tried again', async () => {
  const service = serviceName();
  const { client, log } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  // Reads are served, writes wait: init() gets past its first commands and then hangs on the first write.
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', '30000', 'WRITE']);
  const failed = client.init({ timeoutMs: 1000 });
  await expect(failed).rejects.toBeInstanceOf(RedisStreamClientError);
  await expect(failed).rejects.toThrow(/1000 ms/);

  await redis.admin.sendCommand(['CLIENT', 'UNPAUSE']);
  await client.init();
  await addStream(redis.admin, service, 'after-retry');
  await waitFor(() => log.added.length === 1);
});

it('lets close() end an init() that is stuck, promptly', async () => {
  const { client } = await redis.fleet.consumer({ serviceName: serviceName() }, { start: false });
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', '30000', 'WRITE']);
  const starting = client.init({ timeoutMs: 60_000 });
  const closing = client.close({ timeoutMs: 500 });
  expect(await settleTime(closing)).toBeLessThan(3000);
  await expect(starting).rejects.toBeInstanceOf(RedisStreamClientError);
});

it.each(['close', 'done'] as const)('bounds %s() by its timeout when Redis does not answer, not by heartbeatMs', async (method) => {
  const service = serviceName();
  const { client, log } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 60_000 });
  await addStream(redis.admin, service, 's');
  await waitFor(() => log.added.length === 1);
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', '30000', 'WRITE']);
  const took = await settleTime(client[method]({ timeoutMs: 500 }));
  expect(took).toBeLessThan(3000);
});

it('bounds close() by a default of a few seconds', async () => {
  const { client } = await redis.fleet.consumer({ serviceName: serviceName(), heartbeatMs: 60_000 });
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', '30000', 'WRITE']);
  const took = await settleTime(client.close());
  expect(took).toBeLessThan(10_000);
});
