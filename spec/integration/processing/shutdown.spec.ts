import { expect, it } from 'vitest';
import { addStream, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('close() waits for the handler under way, commits, then hands the stream over: nothing is processed twice', async () => {
  const service = serviceName();
  const stream = `drained-${service}`;
  await append(redis.admin, stream, 3);
  const first: StreamEntry[] = [];
  let release!: () => void;
  const a = await redis.fleet.consumer({ serviceName: service, autoClaim: true });
  a.client.run({
    eachEntry: async (entry) => {
      if (entry.fields.n === '2') await new Promise<void>((resolve) => (release = resolve));
      first.push(entry);
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(() => release !== undefined);
  const second = new Seen();
  const b = await redis.fleet.consumer({ serviceName: service, autoClaim: true });
  b.client.run({ eachEntry: second.record });
  const closing = a.client.close({ timeoutMs: 5000 });
  await append(redis.admin, stream, 2, 3);
  release();
  await closing;
  expect(first.map((entry) => Number(entry.fields.n))).toEqual(upTo(3));
  await waitFor(() => second.count === 2);
  expect(second.numbers(stream)).toEqual([3, 4]);
});

it('close() aborts a handler still running after timeoutMs and hands over what was committed: that entry comes again', async () => {
  const service = serviceName();
  const stream = `cut-${service}`;
  await append(redis.admin, stream, 2);
  let aborted = false;
  const a = await redis.fleet.consumer({ serviceName: service, autoClaim: true });
  a.client.run({
    eachEntry: async (entry, lease) => {
      if (entry.fields.n !== '1') return;
      await new Promise<void>((resolve) =>
        lease.signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        }),
      );
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(async () => (await a.client.getPosition(stream)) !== undefined);
  const second = new Seen();
  const b = await redis.fleet.consumer({ serviceName: service, autoClaim: true });
  b.client.run({ eachEntry: second.record });
  const startedAt = performance.now();
  await a.client.close({ timeoutMs: 300 });
  expect(performance.now() - startedAt).toBeLessThan(3000);
  expect(aborted).toBe(true);
  await waitFor(() => second.count === 1);
  expect(second.numbers(stream)).toEqual([1]);
});
