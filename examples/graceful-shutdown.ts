// Run: npx tsx examples/graceful-shutdown.ts [--finish]   (REDIS_URL defaults to
// redis://127.0.0.1:6379), then press Ctrl-C or send SIGTERM (Ctrl-C twice more exits at once).
// Default: close(), which lets the handlers under way end, commits what was processed and hands every unfinished
// stream to the other consumers at once (rolling restart, scale-down). With --finish: done(), which marks every
// owned stream finished, leaving its unprocessed entries unprocessed, and leaves the fleet; use it only when the
// streams need no more work.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { RedisStreamClient } from 'redis-stream-client';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

const finish = process.argv.includes('--finish');
const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

// autoClaim: the peers take over what close() hands them without any code of their own.
const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true });
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
client.run({
  eachEntry: async (entry) => {
    await sleep(200); // one unit of work on the entry, writes fenced with entry.token
    console.log(`${entry.stream}: ${entry.id} processed`);
  },
});
await client.init();
console.log(`${client.id()} (pid ${process.pid}) is consuming "orders"; Ctrl-C to stop`);

async function shutdown(signal: string): Promise<void> {
  const owned = client.owned().length;
  console.log(`${signal}: stopping (${finish ? 'done(): finishing' : 'close(): handing over'} ${owned} stream${owned === 1 ? '' : 's'})`);
  // No handler starts from here on; the ones under way may end (up to timeoutMs, by default heartbeatMs), then
  // their signals are aborted. After close(), an entry whose handler had not ended is processed again by the next owner.
  await (finish ? client.done({ timeoutMs: 5000 }) : client.close({ timeoutMs: 5000 }));
  await disconnect(redis);
  console.log('stopped');
}

// Not process.once: under tsx one Ctrl-C can arrive twice, and a second delivery without a listener would end the
// process in the middle of done() or close(). See shutdown-signals.ts.
stopOnSignals(shutdown);
