// Run in two or more terminals: npx tsx examples/auto-claim.ts   (REDIS_URL defaults to
// redis://127.0.0.1:6379). Add streams with examples/producer.ts and kill one copy (kill -9 <pid>, or Ctrl-C: this
// example does not close(), so either is a death to the others): within about heartbeatMs the others claim its
// streams themselves and carry on from its last checkpoint.
import { createClient } from 'redis';
import { RedisStreamClient, type StreamLease } from 'redis-stream-client';

// Saves progress unless a later owner of the stream (a greater fencing token) has saved already: a former owner
// that wakes up from a stall cannot overwrite the new owner's progress.
const SAVE_CHECKPOINT = `
local fence = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
if tonumber(ARGV[1]) < fence then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'last', ARGV[2])
return 1`;

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('streamAdded', consume); // new streams and, with lease.recovered, streams taken over from dead peers
client.on('streamDisowned', (lease) => console.log(`${lease.stream}: lost; a peer takes it over`));
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
await client.init();
console.log(`${client.id()} (pid ${process.pid}) is consuming "orders"`);

async function consume(lease: StreamLease): Promise<void> {
  const checkpoint = `orders:checkpoint:${lease.stream}`;
  let lastId = (await redis.hGet(checkpoint, 'last')) ?? '0-0';
  console.log(`${lease.stream}: ${lease.recovered ? 'taken over' : 'new'}, token ${lease.token}, from ${lastId}`);
  const reader = redis.duplicate(); // a blocking read ties up its connection
  reader.on('error', () => undefined);
  await reader.connect();
  try {
    while (!lease.signal.aborted) {
      const reply = await reader.xRead({ key: lease.stream, id: lastId }, { BLOCK: 1000, COUNT: 100 });
      for (const { id, message } of reply?.[0]?.messages ?? []) {
        if (message.end) {
          await client.doneStream(lease.stream);
          await redis.del(checkpoint);
          console.log(`${lease.stream}: done`);
          return;
        }
        console.log(`${lease.stream}: ${JSON.stringify(message)}`); // the work
        const saved = await redis.eval(SAVE_CHECKPOINT, { keys: [checkpoint], arguments: [String(lease.token), id] });
        if (saved === 0) return; // a newer owner has saved: this lease is stale
        lastId = id;
      }
    }
  } finally {
    await reader.disconnect();
  }
}
