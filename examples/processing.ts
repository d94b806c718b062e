// Run: npx tsx examples/processing.ts   (REDIS_URL defaults to redis://127.0.0.1:6379)
// Processing with run(): a producer appends to three streams while two consumers process them. Halfway through, one
// consumer closes; its streams go on at the other one from the positions it committed, so no entry is skipped and
// none is processed twice. Every half second it prints who owns each stream and its committed position. The two
// consumers share this process to keep the example short; in production each is a process of its own.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { RedisStreamClient, type StreamEntry } from 'redis-stream-client';

const ENTRIES = 40; // per stream, one every 50 ms, then an end marker

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const run = Date.now();
const streams = ['a', 'b', 'c'].map((name) => `order-${run}-${name}`);
const short = (stream: string) => stream.slice(-1);
const numberOf = new Map<string, string>(); // entry id -> its number in its stream, for printing positions
const timesProcessed = new Map<string, number>(); // stream and entry number -> how often a handler ran for it

function consumer(name: string): RedisStreamClient {
  // autoClaim: what a closing (or dying) consumer leaves is taken by the other one.
  const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true, heartbeatMs: 1000 });
  client.on('error', (error) => console.error(`${name}: ${error.name}: ${error.message}`));
  client.run({
    // Called for every entry of every stream this consumer owns, one entry of a stream at a time, in order.
    eachEntry: async (entry: StreamEntry) => {
      await sleep(5); // the work; writes downstream would carry entry.token
      const key = `${short(entry.stream)}#${entry.fields.n}`;
      timesProcessed.set(key, (timesProcessed.get(key) ?? 0) + 1);
    },
    // The end marker is not handed to eachEntry: once every entry before it is processed, the stream is finished.
    isEnd: (entry) => entry.fields.end === '1',
  });
  return client;
}

const c1 = consumer('c1');
const c2 = consumer('c2');
await c1.init();
await c2.init();
const names = new Map([
  [c1.id(), 'c1'],
  [c2.id(), 'c2'],
]);

// The producer: the streams are handed out first, then written to while they are processed.
for (const stream of streams) await c1.addStream(stream);
while (c1.owned().length + c2.owned().length < streams.length) await sleep(10);
const producing = (async () => {
  for (let n = 1; n <= ENTRIES; n++) {
    for (const stream of streams) numberOf.set(await redis.xAdd(stream, '*', { n: String(n) }), String(n));
    await sleep(50);
  }
  for (const stream of streams) await redis.xAdd(stream, '*', { end: '1' });
})();

/** Each stream: its owner (nobody while handed over, and once finished) and its committed position (the number of
 * its last processed entry). */
async function status(): Promise<string> {
  const owned = [...c1.owned(), ...c2.owned()];
  const parts = await Promise.all(
    streams.map(async (stream) => {
      const lease = owned.find((candidate) => candidate.stream === stream);
      const position = await c2.getPosition(stream);
      const owner = lease ? names.get(lease.consumerId) : 'nobody';
      return `${short(stream)}: ${owner}, position ${position ? `#${numberOf.get(position)}` : '-'}`;
    }),
  );
  return parts.join('    ');
}

const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1).padStart(4);
let closed = false;
while (c1.owned().length + c2.owned().length > 0) {
  await sleep(500);
  console.log(`${seconds()} s  ${await status()}`);
  if (!closed && performance.now() - started > 1000) {
    closed = true;
    // close() waits for the handlers under way, commits what was processed, and hands the streams over at once.
    await c1.close();
    console.log(`${seconds()} s  c1 closed: its streams go on at c2 from their committed positions`);
  }
}
await producing;

const twice = [...timesProcessed.values()].filter((count) => count > 1).length;
console.log(`\nProcessed ${timesProcessed.size} of ${ENTRIES * streams.length} entries, ${twice} of them more than once.`);
await c2.close();
await redis.del(streams);
await redis.quit();
