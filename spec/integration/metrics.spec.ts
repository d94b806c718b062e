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
