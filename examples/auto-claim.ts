// Run in two or more terminals: npx tsx examples/auto-claim.ts   (REDIS_URL defaults to
// redis://127.0.0.1:6379). Add streams with examples/producer.ts, or streams that stay open (see examples/README.md),
// and kill one copy (kill -9 <pid>, or Ctrl-C: this example does not close(), so either is a death to the others):
// within about heartbeatMs the others claim its streams themselves and go on after the position it last committed.
import { createClient } from 'redis';
import { RedisStreamClient, type StreamEntry } from 'redis-stream-client';

// The work's result, written to a store of your own, fenced by the entry's token: a former owner that wakes up from
// a stall cannot overwrite what the new owner wrote. (The positions the library commits are fenced the same way.)
const RECORD = `
local fence = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
if tonumber(ARGV[1]) < fence then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'last', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'entries', 1)
return 1`;

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('streamAdded', async (lease) => {
  if (!lease.recovered) return console.log(`${lease.stream}: new, token ${lease.token}`);
  // Taken over from a dead peer (or this process's earlier run): processing goes on after the committed position.
  console.log(`${lease.stream}: taken over, token ${lease.token}, going on after ${(await client.getPosition(lease.stream)) ?? 'the start'}`);
});
client.on('streamDisowned', (lease) => console.log(`${lease.stream}: lost; a peer takes it over`));
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({ eachEntry: handle, isEnd: (entry) => entry.fields.end !== undefined });
await client.init();
console.log(`${client.id()} (pid ${process.pid}) is consuming "orders"`);

async function handle(entry: StreamEntry): Promise<void> {
  console.log(`${entry.stream}: ${entry.id} ${JSON.stringify(entry.fields)}${entry.attempt > 1 ? ` (attempt ${entry.attempt})` : ''}`);
  const written = await redis.eval(RECORD, { keys: [`orders:results:${entry.stream}`], arguments: [String(entry.token), entry.id] });
  // Refused: a later owner holds the stream. Its position commits are refused for this lease as well, which then
  // ends (streamDisowned); returning here leaves the entry to the new owner.
  if (written === 0) console.log(`${entry.stream}: a later owner has written; this lease is out of date`);
}
