import { expect, it } from 'vitest';
import { addStream, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

/** A handler that takes a few ms per entry, so that hand-offs find handlers under way. */
function slowly(seen: Seen): (entry: StreamEntry) => Promise<void> {
  return async (entry) => {
    await new Promise((resolve) => setTimeout(resolve, 3));
    seen.record(entry);
  };
}

it('goes on exactly where the giver stopped when a stream moves by rebalancing: every entry once, in order', async () => {
  const service = serviceName();
  const streams = upTo(6).map((i) => `moving-${service}-${i}`);
  for (const stream of streams) await append(redis.admin, stream, 200);
  const options = { serviceName: service, heartbeatMs: 1000, autoClaim: true };
  const giverSeen = new Seen();
  const giver = await redis.fleet.consumer(options, { start: false });
  giver.client.run({ eachEntry: slowly(giverSeen), concurrency: 6 });
  await giver.client.init();
  for (const stream of streams) await addStream(redis.admin, service, stream);
  await waitFor(() => streams.every((stream) => giverSeen.of(stream).length > 0));

  // Joins while the giver is part-way through every stream: half of them move, handlers under way.
  const joinerSeen = new Seen();
  const joiner = await redis.fleet.consumer(options, { start: false });
  joiner.client.run({ eachEntry: slowly(joinerSeen), concurrency: 6 });
  await joiner.client.init();
  await waitFor(() => joiner.client.owned().length === 3, { timeoutMs: 10_000 });
  // Written after the move: read by the new owner.
  for (const stream of streams) await append(redis.admin, stream, 5, 200);
  await waitFor(() => giverSeen.count + joinerSeen.count >= streams.length * 205, { timeoutMs: 20_000 });

  const moved = giver.log.released.map(({ lease }) => lease.stream);
  expect(moved).toHaveLength(3);
  for (const stream of streams) {
    // Each entry processed once (the giver waited for its handlers and committed before handing over), in order.
    expect([...giverSeen.numbers(stream), ...joinerSeen.numbers(stream)]).toEqual(upTo(205));
  }
  for (const { lease } of giver.log.released) {
    expect(joinerSeen.of(lease.stream).every((entry) => entry.token > lease.token)).toBe(true);
  }
  // Under way at the giver, finished by the joiner.
  for (const stream of moved) expect(joinerSeen.of(stream).length).toBeGreaterThan(5);
});
