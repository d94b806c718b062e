import { expect, it } from 'vitest';
import { errorKind } from '../../lib/error-flood.js';
import { RepeatedErrors, on, once, type StreamLease } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

// Persistence, so that the LBS survives the restart of the outage spec.
const redis = useRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });

it('client.once() gets the first stream only and is removed; client.on() runs with its context as `this`', async () => {
  const { client, log } = await redis.fleet.consumer({ serviceName: serviceName() });
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

it('on() iterates the streams a client is given, typed, until the signal aborts; once() resolves with the next', async () => {
  const { client } = await redis.fleet.consumer({ serviceName: serviceName() });
  const shutdown = new AbortController();
  const seen: string[] = [];
  const loop = (async () => {
    for await (const lease of on(client, 'streamAdded', { signal: shutdown.signal })) {
      seen.push(lease.stream);
      if (seen.length === 3) shutdown.abort();
    }
  })();
  const next = once(client, 'streamAdded');
  for (const stream of ['s1', 's2', 's3']) await client.addStream(stream);
  await loop;
  expect(seen.sort()).toEqual(['s1', 's2', 's3']);
  expect(seen).toContain((await next).stream);
  expect(client.listenerCount('streamAdded')).toBe(1); // the fleet's recorder only
});

it('a 4 s Redis outage reports each kind of error once; close() delivers the count of the rest', async () => {
  const { client, log } = await redis.fleet.consumer({ serviceName: serviceName(), heartbeatMs: 1000 });
  for (let i = 0; i < 5; i++) await client.addStream(`s${i}`);
  await waitFor(() => client.owned().length === 5);

  redis.server.kill('SIGKILL');
  await sleep(4000); // the outage itself: Redis is down for this long
  await redis.server.restart();
  await waitFor(() => log.added.filter((lease) => lease.recovered).length === 5, { timeoutMs: 15_000 });

  const firsts = log.errors.filter((error) => !(error instanceof RepeatedErrors));
  // Socket closed, connection refused (every reconnect attempt of every connection), session lost: a few kinds,
  // each reported once; before, every attempt was an event (about 46 per consumer).
  expect(new Set(firsts.map(errorKind)).size).toBe(firsts.length);
  expect(firsts.length).toBeLessThanOrEqual(5);

  await client.close();
  const summaries = log.errors.filter((error): error is RepeatedErrors => error instanceof RepeatedErrors);
  expect(summaries.length).toBeGreaterThan(0);
  expect(summaries.reduce((sum, summary) => sum + summary.count, 0)).toBeGreaterThan(10);
  for (const summary of summaries) expect(summary.cause).toBeInstanceOf(Error);
});
