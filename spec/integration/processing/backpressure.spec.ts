import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { addStream } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { sleep, waitFor } from '../../support/wait.js';

const redis = useRedisServer();

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapMb(): number {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

it('holds at most maxBufferedEntries read and unprocessed entries: reading pauses instead of growing the heap', async () => {
  const service = serviceName();
  const streams = Array.from({ length: 20 }, (_, i) => `backlog-${service}-${i}`);
  const value = 'x'.repeat(1024);
  // 20,000 entries of 1 KB: about 25 MB of heap if they were all read at once.
  for (const stream of streams) {
    const batch = Array.from({ length: 1000 }, () => ['XADD', stream, '*', 'v', value]);
    await Promise.all(batch.map((command) => redis.admin.sendCommand(command)));
  }
  let started = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { client } = await redis.fleet.consumer({ serviceName: service });
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => client.owned().length === 20);
  const before = heapMb();
  client.run({
    concurrency: 20,
    maxBufferedEntries: 200,
    batchSize: 1000,
    eachEntry: async () => {
      started += 1;
      await gate;
    },
  });
  await waitFor(() => started === 20);
  // For a second, reading would have had every chance to run ahead: the heap stays within a few MB.
  let most = 0;
  for (const end = performance.now() + 1000; performance.now() < end; await sleep(100)) most = Math.max(most, heapMb() - before);
  expect(most).toBeLessThan(8);
  release();
  // And the backlog drains once the handlers go on.
  await waitFor(() => started === 20_000, { timeoutMs: 30_000 });
});
