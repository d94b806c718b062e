import { expect, it } from 'vitest';
import { keysFor, type MetricsSnapshot } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const HEARTBEAT_MS = 600;

function sum(snapshots: MetricsSnapshot[], pick: (snapshot: MetricsSnapshot) => number): number {
  return snapshots.reduce((total, snapshot) => total + pick(snapshot), 0);
}

it('counts streams new, taken over, handed over and lost, claims, dead letters and heartbeats', async () => {
  const service = serviceName();
  // No rebalancing: the owner keeps its four streams when the others join, so that all four are taken over.
  const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
  for (let i = 0; i < 4; i++) await redis.admin.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: `s${i}` }) });
  await waitFor(() => owner.owned().size === 4);
  const options = { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false };
  const [a, b] = await Promise.all([redis.fleet.consumer(options), redis.fleet.consumer(options)]);
  const both = () => [a!.client.metrics(), b!.client.metrics()];

  owner.kill('SIGKILL');
  await waitFor(() => sum(both(), (m) => m.owned) === 4, { timeoutMs: 10_000 });
  expect(sum(both(), (m) => m.acquired.takeover)).toBe(4);
  expect(sum(both(), (m) => m.claims.won)).toBe(4);
  expect(sum(both(), (m) => m.acquired.new + m.acquired.handoff + m.lost)).toBe(0);

  // A malformed entry: whichever reads it dead-letters it.
  await redis.admin.xAdd(keysFor(service).lbs, '*', { 'lbs-input': 'not json' });
  await waitFor(() => sum(both(), (m) => m.deadLetters.lbs) === 1);

  // b leaves: what it had is handed to a.
  const handed = b!.client.metrics().owned;
  await b!.client.close();
  expect(b!.client.metrics()).toMatchObject({ owned: 0, released: { close: handed, rebalance: 0, drain: 0 } });
  await waitFor(() => a!.client.metrics().owned === 4);
  expect(a!.client.metrics().acquired.handoff).toBe(handed);

  const { heartbeat } = a!.client.metrics();
  expect(heartbeat.roundTripMs.count).toBeGreaterThan(0);
  expect(heartbeat.roundTripMs.buckets.at(-1)).toEqual({ le: Number.POSITIVE_INFINITY, count: heartbeat.roundTripMs.count });
  const counts = heartbeat.roundTripMs.buckets.map((bucket) => bucket.count);
  expect(counts).toEqual([...counts].sort((x, y) => x - y));
  expect(heartbeat.validityMarginMs).toBeGreaterThan(0);
  expect(heartbeat.validityMarginMs).toBeLessThanOrEqual(HEARTBEAT_MS);

  // Redis holds every write longer than the session: a's four streams are lost (disowned), then taken back.
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', String(3 * HEARTBEAT_MS), 'WRITE']);
  await waitFor(() => a!.client.metrics().lost === 4, { timeoutMs: 5000 });
  await waitFor(() => a!.client.metrics().owned === 4, { timeoutMs: 10_000 });
});

it('counts handler calls under run(): processed, failed, retried, their duration, and the lag and buffer of now', async () => {
  const service = serviceName();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
  let release: (() => void) | undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let failures = 0;
  client.run({
    maxAttempts: 3,
    eachEntry: async (entry) => {
      if (entry.fields.fail && failures < 1) {
        failures += 1;
        throw new Error('once');
      }
      if (entry.fields.hold) await held;
    },
  });
  await client.addStream('a');
  await client.addStream('b');
  await waitFor(() => client.metrics().owned === 2);
  for (const n of [1, 2, 3]) await redis.admin.xAdd('a', '*', { n: String(n) });
  await redis.admin.xAdd('b', '*', { fail: '1' });
  await waitFor(() => client.metrics().processing.processed === 4);
  expect(client.metrics().processing).toMatchObject({ processed: 4, failed: 1, retried: 1, buffered: 0 });
  expect(client.metrics().processing.durationMs.count).toBe(5);

  // A handler that does not return: its stream falls behind, and what comes after it waits in the buffer.
  await redis.admin.xAdd('a', '*', { hold: '1' });
  await redis.admin.xAdd('a', '*', { n: '5' });
  await waitFor(() => client.metrics().processing.buffered === 1 && client.metrics().processing.lagMs.max >= 200);
  const { lagMs } = client.metrics().processing;
  expect(lagMs.streams.count).toBe(2);
  release!();
  await waitFor(() => client.metrics().processing.processed === 6);
  expect(client.metrics().processing).toMatchObject({ buffered: 0, lagMs: { max: 0 } });
});
