/**
 * Where the processing's memory per owned stream goes: heap per stream of its two per-stream parts, measured
 * alone, 20,000 of each:
 * - a node-redis v4 subscription to one keyspace channel per stream (`__keyspace@0__:<stream>`, one listener), as
 *   lib/processing/stream-wakeups.ts makes;
 * - a `StreamWork` (lib/processing/stream-work.ts) in a Map keyed by stream name, with a stand-in for its lease.
 *   node --expose-gc --import tsx bench/probes/processing-memory.ts
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { StreamWork } from '../../lib/processing/stream-work.js';
import { parseEntriesOptions } from '../../lib/processing/run-options.js';
import { startRedis } from '../../spec/support/redis-server.js';
import { fmt } from '../lib/util.js';

const N = 20_000;
const streamName = (i: number): string => `bpg-5f3a9c-s${i}`;

async function heap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

const server = await startRedis();
const subscriber = createClient({ url: server.url });
subscriber.on('error', () => undefined);
try {
  await subscriber.connect();
  const channels = Array.from({ length: N }, (_, i) => `__keyspace@0__:${streamName(i)}`);
  const listener = (): void => undefined;
  let before = await heap();
  for (let i = 0; i < N; i += 500) await subscriber.subscribe(channels.slice(i, i + 500), listener);
  const subscriptions = ((await heap()) - before) / N;

  // The lease stands in with the fields a StreamWork reads; the channel names above are kept alive and not counted.
  const settings = parseEntriesOptions({});
  const works = new Map<string, StreamWork>();
  before = await heap();
  for (let i = 0; i < N; i++) {
    const lease = { stream: streamName(i), token: i + 1, ended: false } as unknown as ConstructorParameters<typeof StreamWork>[0];
    works.set(lease.stream, new StreamWork(lease, settings));
  }
  const streamWorks = ((await heap()) - before) / N;
  console.log(`heap per stream, ${fmt(N)} streams:`);
  console.log(`  node-redis SUBSCRIBE of one keyspace channel per stream: ${fmt(subscriptions)} B`);
  console.log(`  StreamWork in a Map, with a stand-in lease (about 60 B of it): ${fmt(streamWorks)} B`);
  console.log(`  (channels kept: ${channels.length}, works: ${works.size})`);
} finally {
  await subscriber.disconnect().catch(() => undefined);
  await server.stop();
}
