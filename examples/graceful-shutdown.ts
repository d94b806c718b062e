// Run: npx tsx examples/graceful-shutdown.ts [--finish]   (REDIS_URL defaults to
// redis://127.0.0.1:6379), then press Ctrl-C or send SIGTERM (Ctrl-C twice more exits at once).
// Default: close(), which hands every unfinished stream to the other consumers at once (rolling restart,
// scale-down). With --finish: done(), which marks every owned stream finished and leaves the fleet; use it only
// when the streams need no more work.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { RedisStreamClient, type StreamLease } from 'redis-stream-client';
import { stopOnSignals } from './shutdown-signals.js';

const finish = process.argv.includes('--finish');
const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

// autoClaim: the peers take over what close() hands them without any code of their own.
const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
const working = new Set<Promise<void>>();
let stopping = false;
client.on('streamAdded', (lease) => {
  const task = work(lease).finally(() => working.delete(task));
  working.add(task);
  return task;
});
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
await client.init();
console.log(`${client.id()} (pid ${process.pid}) is consuming "orders"; Ctrl-C to stop`);

async function work(lease: StreamLease): Promise<void> {
  while (!stopping && !lease.signal.aborted) {
    await sleep(200); // one unit of work on lease.stream, writes fenced with lease.token
  }
}

async function shutdown(signal: string): Promise<void> {
  const owned = client.owned().length;
  console.log(`${signal}: stopping (${finish ? 'done(): finishing' : 'close(): handing over'} ${owned} stream${owned === 1 ? '' : 's'})`);
  stopping = true; // no unit of work starts any more
  await Promise.allSettled(working); // units in progress end: nothing is written after this point
  await (finish ? client.done() : client.close());
  await redis.quit();
  console.log('stopped');
}

// Not process.once: under tsx one Ctrl-C can arrive twice, and a second delivery without a listener would end the
// process in the middle of done() or close(). See shutdown-signals.ts.
stopOnSignals(shutdown);
