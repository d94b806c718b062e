import { Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { keysFor } from '../../lib/index.js';
import { PROMETHEUS_FAMILIES, registerPrometheusMetrics, unregisterPrometheusMetrics } from '../../lib/prometheus.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const HEARTBEAT_MS = 600;

/** The samples of a scrape: `name{labels} value` lines, labels parsed. */
async function scrape(registry: Registry): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`Not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key!, value!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

function total(samples: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value))
    .reduce((sum, sample) => sum + sample.value, 0);
}

it('exposes the consumers of a registry after a takeover: counters by service and consumer, never by stream', async () => {
  const service = serviceName();
  const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
  const streams = ['orders-1', 'orders-2', 'orders-3'];
  for (const stream of streams) await redis.admin.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: stream }) });
  await waitFor(() => owner.owned().size === 3);
  const options = { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false };
  const a = await redis.fleet.consumer(options);
  const registry = new Registry();
  registerPrometheusMetrics(registry, a.client);
  // A later call adds a client to the metrics already registered.
  const b = await redis.fleet.consumer(options);
  registerPrometheusMetrics(registry, [b.client]);

  owner.kill('SIGKILL');
  await waitFor(() => a.client.metrics().owned + b.client.metrics().owned === 3, { timeoutMs: 10_000 });
  const samples = await scrape(registry);

  expect(total(samples, 'rsc_owned_streams')).toBe(3);
  expect(total(samples, 'rsc_streams_acquired_total', { origin: 'takeover' })).toBe(3);
  expect(total(samples, 'rsc_streams_acquired_total', { origin: 'new' })).toBe(0);
  expect(total(samples, 'rsc_claims_total', { result: 'won' })).toBe(3);
  expect(total(samples, 'rsc_streams_lost_total')).toBe(0);
  for (const client of [a.client, b.client]) {
    expect(total(samples, 'rsc_owned_streams', { service, consumer: client.id() })).toBe(client.metrics().owned);
  }
  // Histograms: cumulative buckets in seconds, the +Inf one equal to the count.
  for (const consumer of [a.client.id(), b.client.id()]) {
    const count = total(samples, 'rsc_heartbeat_seconds_count', { consumer });
    expect(count).toBeGreaterThan(0);
    expect(total(samples, 'rsc_heartbeat_seconds_bucket', { consumer, le: '+Inf' })).toBe(count);
    expect(total(samples, 'rsc_heartbeat_seconds_sum', { consumer })).toBeLessThan(count * (HEARTBEAT_MS / 1000));
  }
  // Only these labels, and no stream name anywhere.
  const labelNames = new Set(samples.flatMap((sample) => Object.keys(sample.labels)));
  expect([...labelNames].sort()).toEqual(['consumer', 'kind', 'le', 'origin', 'reason', 'result', 'service']);
  const text = await registry.metrics();
  for (const stream of streams) expect(text).not.toContain(stream);
  // Every family is there, each with HELP and TYPE.
  for (const family of PROMETHEUS_FAMILIES) expect(text).toContain(`# TYPE ${family.name} ${family.type}`);

  unregisterPrometheusMetrics(registry, a.client);
  expect(new Set((await scrape(registry)).map((sample) => sample.labels.consumer))).toEqual(new Set([b.client.id()]));
});

it('reads the service state from Redis at scrape time: backlog, streams awaiting takeover, dead letters, live consumers', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const add = (stream: string) => redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: stream }) });
  // Manual mode, and room for one stream only: what a dead owner held waits, and so do later entries.
  const manual = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: false, maxStreams: 1, rebalance: false });
  await add('mine');
  await waitFor(() => manual.client.metrics().owned === 1);
  const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
  await add('held-1');
  await add('held-2');
  await waitFor(() => owner.owned().size === 2);
  owner.kill('SIGKILL');
  // Announced (and announced again while nobody claims them), not claimed.
  await waitFor(() => new Set(manual.log.expired.map((expired) => expired.stream)).size === 2, { timeoutMs: 10_000 });
  await add('waiting-1');
  await add('waiting-2');
  await redis.admin.xAdd(keys.deadLetter, '*', { reason: 'spec' });
  for (let i = 0; i < 2; i++) await redis.admin.xAdd(keys.entryDeadLetter, '*', { reason: 'spec' });

  const registry = new Registry();
  registerPrometheusMetrics(registry, manual.client);
  const samples = await scrape(registry);
  const consumer = manual.client.id();
  expect(total(samples, 'rsc_lbs_undelivered_entries', { service, consumer })).toBe(2);
  expect(total(samples, 'rsc_streams_awaiting_takeover', { service, consumer })).toBe(2);
  expect(total(samples, 'rsc_dead_letter_entries', { kind: 'lbs' })).toBe(1);
  expect(total(samples, 'rsc_dead_letter_entries', { kind: 'entry' })).toBe(2);
  expect(total(samples, 'rsc_live_consumers', { service, consumer })).toBe(1);
  await expect(manual.client.serviceMetrics()).resolves.toEqual({
    service,
    undeliveredEntries: 2,
    streamsAwaitingTakeover: 2,
    deadLetterEntries: { lbs: 1, entry: 2 },
    liveConsumers: 1,
  });

  // A client that is not running has no service samples; its own counters stay.
  await manual.client.close();
  const after = await scrape(registry);
  expect(after.filter((sample) => sample.name === 'rsc_live_consumers')).toEqual([]);
  expect(total(after, 'rsc_owned_streams', { consumer })).toBe(0);
});
