import { spawn } from 'node:child_process';
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
  const processed: string[] = [];
  client.run({ eachEntry: (entry) => void processed.push(entry.id) });
  // Reads are served, writes wait: init() gets past its first commands and then hangs on the first write.
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', '30000', 'WRITE']);
  const failed = client.init({ timeoutMs: 1000 });
  await expect(failed).rejects.toBeInstanceOf(RedisStreamClientError);
  await expect(failed).rejects.toThrow(/1000 ms/);

  await redis.admin.sendCommand(['CLIENT', 'UNPAUSE']);
  await client.init();
  await addStream(redis.admin, service, 'after-retry');
  await waitFor(() => log.added.length === 1);
  // Processing registered before the failed init() works after the retry.
  const id = await redis.admin.xAdd('after-retry', '*', { n: '0' });
  await waitFor(() => processed.length === 1);
  expect(processed).toEqual([id]);
});

it('refuses a bad timeoutMs before anything starts, leaving the client ready for init()', async () => {
  const { client } = await redis.fleet.consumer({ serviceName: serviceName() }, { start: false });
  await expect(client.init({ timeoutMs: 0 })).rejects.toMatchObject({ setting: 'timeoutMs' });
  await client.init();
  await expect(client.close({ timeoutMs: -1 })).rejects.toMatchObject({ setting: 'timeoutMs' });
  await client.close();
  expect(client.owned()).toEqual([]);
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

it.each(['close', 'done'] as const)('sends no command to Redis once %s() has resolved, even mid-takeover', async (method) => {
  const service = serviceName();
  const heartbeatMs = 300;
  const { client, redis: given } = await redis.fleet.consumer({ serviceName: service, heartbeatMs, autoClaim: true });
  // The connection the client was given: the only one of its own it does not close.
  const address = /\baddr=(\S+)/.exec(String(await given.sendCommand(['CLIENT', 'INFO'])))![1]!;
  const leaving = await redis.fleet.consumer({ serviceName: service, heartbeatMs });
  for (let i = 0; i < 200; i++) await addStream(redis.admin, service, `s${i}`);
  await waitFor(() => leaving.log.added.length + client.owned().length === 200);
  // A second survivor: each takes its share at once, then waits a grace before taking what the other left.
  await redis.fleet.consumer({ serviceName: service, heartbeatMs, autoClaim: true });
  const monitor = spawn('redis-cli', ['-p', String(redis.server.port), 'MONITOR'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const lines: string[] = [];
    monitor.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    await waitFor(() => lines.includes('OK'));
    // The peer hands its streams over: the client is in the middle of taking them over when it stops.
    await leaving.client.close();
    await client[method]();
    // MONITOR shows commands a little after they ran: the window starts at a marker sent once the client stopped.
    await redis.admin.sendCommand(['ECHO', 'start-of-window']);
    await waitFor(() => lines.some((line) => line.includes('start-of-window')));
    const after = lines.findIndex((line) => line.includes('start-of-window')) + 1;
    // Three heartbeats: every timer of the client (heartbeat, validity, self-check, a takeover's grace) would have
    // fired by then. The window is the check itself, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, 3 * heartbeatMs));
    await redis.admin.sendCommand(['ECHO', 'end-of-window']);
    await waitFor(() => lines.some((line) => line.includes('end-of-window')));
    const sent = lines.slice(after).filter((line) => line.includes(` ${address}] `));
    expect(sent).toEqual([]);
  } finally {
    monitor.kill();
  }
});
