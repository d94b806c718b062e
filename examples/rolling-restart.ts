// Run: npx tsx examples/rolling-restart.ts   (REDIS_URL defaults to redis://127.0.0.1:6379)
// A rolling deploy: three consumers with stable ids process 24 streams while a producer writes to them. Each in turn
// restarts: close({ restart: true }) keeps its streams for restartGraceMs, and the new process under the same
// consumerId takes them back (origin 'restart') and goes on from the committed positions. No stream moves to another
// consumer, and no entry is skipped or processed twice. Then a fourth consumer joins and the others hand it its fair
// share (origin 'handoff'). The consumers share this process to keep the example short; in production each is a
// process (a pod) of its own, with its pod name as consumerId.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { RedisStreamClient, type StreamEntry } from 'redis-stream-client';

const STREAMS = 24;
const ENTRIES = 60; // per stream, one every 50 ms

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const run = Date.now();
const serviceName = `orders-${run}`;
const streams = Array.from({ length: STREAMS }, (_, i) => `order-${run}-${i}`);
const timesProcessed = new Map<string, number>(); // stream and entry number -> how often a handler ran for it
const moves: string[] = []; // streams that went to another consumer

function consumer(consumerId: string): RedisStreamClient {
  const client = new RedisStreamClient(redis, { serviceName, consumerId, autoClaim: true, heartbeatMs: 1000, restartGraceMs: 10_000 });
  client.on('error', (error) => console.error(`${consumerId}: ${error.name}: ${error.message}`));
  client.on('streamAdded', (lease) => {
    if (lease.origin === 'handoff' || lease.origin === 'takeover') moves.push(`${lease.stream} -> ${consumerId} (${lease.origin})`);
  });
  client.run({
    eachEntry: async (entry: StreamEntry) => {
      await sleep(2); // the work; writes downstream would carry entry.token
      const key = `${entry.stream}#${entry.fields.n}`;
      timesProcessed.set(key, (timesProcessed.get(key) ?? 0) + 1);
    },
  });
  return client;
}

const ids = ['pod-0', 'pod-1', 'pod-2'];
const fleet = new Map(ids.map((id) => [id, consumer(id)]));
for (const client of fleet.values()) await client.init();
for (const stream of streams) await fleet.get('pod-0')!.addStream(stream);
const owned = () => [...fleet.values()].reduce((sum, client) => sum + client.owned().length, 0);
while (owned() < STREAMS) await sleep(10);
const shares = () => [...fleet].map(([id, client]) => `${id}: ${client.owned().length}`).join(', ');
console.log(`Shares: ${shares()}`);

const producing = (async () => {
  for (let n = 1; n <= ENTRIES; n++) {
    for (const stream of streams) await redis.xAdd(stream, '*', { n: String(n) });
    await sleep(50);
  }
})();

for (const id of ids) {
  await sleep(400);
  const before = fleet.get(id)!.owned().map((lease) => lease.stream);
  // SIGTERM in a pod: the handlers under way end, positions are committed, the streams wait for this id.
  await fleet.get(id)!.close({ restart: true });
  const started = performance.now();
  const next = consumer(id); // the new process, with the same consumerId
  fleet.set(id, next);
  await next.init();
  while (next.owned().length < before.length) await sleep(5);
  const origins = [...new Set(next.owned().map((lease) => lease.origin))].join(', ');
  console.log(`${id} restarted: ${next.owned().length} streams back in ${Math.round(performance.now() - started)} ms (origin ${origins})`);
}
await producing;

// Scaling out: a fourth consumer gets its fair share within about a heartbeat.
fleet.set('pod-3', consumer('pod-3'));
await fleet.get('pod-3')!.init();
while (fleet.get('pod-3')!.owned().length < STREAMS / 4) await sleep(10);
console.log(`pod-3 joined. Shares: ${shares()}`);

// Let the processing catch up, then report.
while (timesProcessed.size < STREAMS * ENTRIES) await sleep(50);
const twice = [...timesProcessed.values()].filter((count) => count > 1).length;
console.log(`\nProcessed ${timesProcessed.size} of ${STREAMS * ENTRIES} entries, ${twice} of them more than once.`);
console.log(`Streams moved to another consumer: ${moves.length} (all when pod-3 joined)\n  ${moves.join('\n  ')}`);
for (const client of fleet.values()) await client.done();
// The example's own service and streams: nothing of it is left in Redis.
for await (const key of redis.scanIterator({ MATCH: `rsc:{${serviceName}}:*` })) await redis.del(key);
await redis.del(streams);
await redis.quit();
