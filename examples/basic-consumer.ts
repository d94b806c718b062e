// Run: npx tsx examples/basic-consumer.ts   (REDIS_URL defaults to redis://127.0.0.1:6379)
// A consumer of the service "orders": it processes every entry of each stream it is handed through the load
// balancer stream until the stream's end marker, which finishes the stream. Add streams with examples/producer.ts;
// run several copies to share them.
import { createClient } from 'redis';
import { RedisStreamClient } from 'redis-stream-client';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

// autoClaim: the copies take over each other's streams, handed over by close() or left by a copy that died. Without
// it, a streamExpired listener must claim them (manual-claim.ts), or they stay with the gone consumer.
const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('streamAdded', (lease) => console.log(`${lease.stream}: owned (token ${lease.token}${lease.recovered ? ', taken over' : ''})`));
client.on('streamDisowned', (lease) => console.log(`${lease.stream}: lost (this process stalled); a peer takes it over`));
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({
  // Each entry of each owned stream, in order; a new owner goes on after the last position committed.
  eachEntry: (entry) => console.log(`${entry.stream}: ${entry.id} ${JSON.stringify(entry.fields)}`),
  // The entry producer.ts writes last: not processed itself; it finishes the stream (doneStream).
  isEnd: (entry) => entry.fields.end !== undefined,
});
await client.init();
console.log(`${client.id()} is consuming "orders" (Ctrl-C to stop)`);

// close() waits for the handlers under way, commits the positions and hands the streams to the other consumers.
// stopOnSignals, not process.once: under tsx one Ctrl-C can arrive twice (see shutdown-signals.ts).
stopOnSignals(async () => {
  await client.close();
  await disconnect(redis);
});
