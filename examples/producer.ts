// Run: npx tsx examples/producer.ts [stream-name]   (REDIS_URL defaults to redis://127.0.0.1:6379)
// Writes a few entries and an end marker to a data stream, then hands the stream to the consumers of "orders"
// through the service's load balancer stream (LBS). One consumer will own it.
import { createClient } from 'redis';
import { addStream } from 'redis-stream-client';

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const stream = process.argv[2] ?? `order-${Date.now()}`;
for (let line = 1; line <= 3; line++) await redis.xAdd(stream, '*', { line: String(line), sku: `sku-${line}` });
await redis.xAdd(stream, '*', { end: '1' });

// The stream name is the unit of ownership: adding a name that a consumer owns already is dropped.
const lbsId = await addStream(redis, 'orders', stream, { customer: 'c-42' });
console.log(`${stream}: added to the LBS of "orders" as entry ${lbsId}`);
await redis.quit();
