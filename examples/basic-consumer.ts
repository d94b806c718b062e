// Run: npx tsx examples/basic-consumer.ts   (REDIS_URL defaults to redis://127.0.0.1:6379)
// A consumer of the service "orders": it is handed streams through the load balancer stream, reads each one until
// its end marker, then marks it done. Add streams with examples/producer.ts; run several copies to share them.
import { createClient } from 'redis';
import { RedisStreamClient, type StreamLease } from 'redis-stream-client';
import { stopOnSignals } from './shutdown-signals.js';

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

// autoClaim: the copies take over each other's streams, handed over by close() or left by a copy that died. Without
// it, a streamExpired listener must claim them (manual-claim.ts), or they stay with the gone consumer.
const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('streamAdded', consume); // new streams and, with lease.recovered, streams taken over
client.on('streamDisowned', (lease) => console.log(`${lease.stream}: lost (this process stalled); a peer takes it over`));
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
await client.init();
console.log(`${client.id()} is consuming "orders" (Ctrl-C to stop)`);

// close() aborts every lease's signal, so the read loops below end, and hands the streams to the other consumers.
// stopOnSignals, not process.once: under tsx one Ctrl-C can arrive twice (see shutdown-signals.ts).
stopOnSignals(async () => {
  await client.close();
  await redis.quit();
});

/** Reads one data stream until its end marker, or until the lease ends. A rejection is reported through `error`. */
async function consume(lease: StreamLease): Promise<void> {
  console.log(`${lease.stream}: owned (token ${lease.token}${lease.recovered ? ', taken over' : ''})`);
  // A blocking read ties up its connection: one per stream keeps this short; with many streams use one XREAD.
  const reader = redis.duplicate();
  reader.on('error', () => undefined);
  await reader.connect();
  try {
    let lastId = '0-0'; // a real consumer resumes from its own checkpoint (see auto-claim.ts)
    while (!lease.signal.aborted) {
      const reply = await reader.xRead({ key: lease.stream, id: lastId }, { BLOCK: 1000, COUNT: 100 });
      for (const { id, message } of reply?.[0]?.messages ?? []) {
        lastId = id;
        if (message.end) {
          await client.doneStream(lease.stream);
          console.log(`${lease.stream}: done`);
          return;
        }
        console.log(`${lease.stream}: ${JSON.stringify(message)}`);
      }
    }
  } finally {
    await reader.disconnect();
  }
}
