/**
 * What the processing scenarios share: consumers that process entries (ours: run({ eachEntry }); xread: the
 * per-stream XREAD baseline), streams filled with entries, waiting for the handlers to have seen them, and the
 * connections each consumer holds (CLIENT LIST, by the client name every connection of a consumer carries).
 */
import type { NodeRedis } from '../baselines/common.js';
import { lbsKey, produce } from '../lib/harness.js';
import type { MetricsMode } from '../lib/metrics-mode.js';
import type { ProcessedSnapshot, ProcessingConfig } from '../lib/protocol.js';
import { sleep } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import type { Context } from './context.js';

/** ours = run({ eachEntry }); xread = a connection and a blocking XREAD per stream, a checkpoint EVAL per entry. */
export type Reading = 'ours' | 'xread';

export const READINGS: readonly Reading[] = ['ours', 'xread'];

export function readingName(reading: Reading): string {
  return reading === 'ours' ? 'ours, run()' : 'per-stream XREAD (by hand)';
}

export interface FleetConfig {
  reading: Reading;
  serviceName: string;
  heartbeatMs: number;
  processing: ProcessingConfig;
  /** each: report every owned stream with its time (takeovers); count: only how many. */
  report: 'each' | 'count';
  /** ours: how much of the metrics machinery runs (the library as shipped when absent). */
  metrics?: MetricsMode;
}

/** Starts a processing consumer on each worker. Rebalancing is off: the parts measure reading, and resuming after a
 * kill needs the victim to keep the streams it took alone until then. */
export async function startFleet(context: Context, workers: readonly Worker[], config: FleetConfig): Promise<void> {
  await Promise.all(
    workers.map((worker) =>
      worker.start({
        impl: config.reading,
        url: context.bench.url,
        serviceName: config.serviceName,
        heartbeatMs: config.heartbeatMs,
        autoClaim: true,
        rebalance: false,
        report: config.report,
        processing: config.processing,
        ...(config.metrics ? { metrics: config.metrics } : {}),
      }),
    ),
  );
}

/** Hands the streams to the service (both readings own streams through the library's LBS). */
export function assign(redis: NodeRedis, serviceName: string, streams: readonly string[]): Promise<string[]> {
  return produce(redis, lbsKey('ours', serviceName), streams);
}

/** Appends `perStream` entries to each stream, pipelined, interleaved across the streams. */
export async function fill(redis: NodeRedis, streams: readonly string[], perStream: number, chunk = 10_000): Promise<number> {
  const total = streams.length * perStream;
  for (let from = 0; from < total; from += chunk) {
    const calls: Array<Promise<unknown>> = [];
    for (let i = from; i < Math.min(total, from + chunk); i++) {
      calls.push(redis.sendCommand(['XADD', streams[i % streams.length]!, '*', 'n', String(Math.floor(i / streams.length))]));
    }
    await Promise.all(calls);
  }
  return total;
}

export function processedBy(workers: readonly Worker[]): number {
  return workers.reduce((sum, worker) => sum + worker.processed, 0);
}

export function ownedBy(workers: readonly Worker[]): number {
  return workers.reduce((sum, worker) => sum + worker.owned, 0);
}

/**
 * Waits until the handlers have been called `total` times in all, or until nothing more was processed for
 * `stallMs` (a consumer that cannot read some streams never gets there), or `timeoutMs` passed. Returns whether
 * `total` was reached.
 */
export async function awaitProcessed(workers: readonly Worker[], total: number, timeoutMs: number, stallMs = 5000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const now = processedBy(workers);
    if (now >= total) return true;
    if (now !== last) {
      last = now;
      lastChange = performance.now();
    }
    if (performance.now() - lastChange > stallMs || performance.now() > deadline) return false;
    await sleep(10);
  }
}

/** Waits until the workers own `streams` in all, or stopped gaining streams for `stallMs`. */
export async function awaitOwned(workers: readonly Worker[], streams: number, timeoutMs: number, stallMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const owned = ownedBy(workers);
    if (owned >= streams) return true;
    if (owned !== last) {
      last = owned;
      lastChange = performance.now();
    }
    if (performance.now() - lastChange > stallMs || performance.now() > deadline) return false;
    await sleep(10);
  }
}

/** Every worker's handler record; `reset` starts their figures again. */
export function snapshots(workers: readonly Worker[], reset = false): Promise<ProcessedSnapshot[]> {
  return Promise.all(workers.map((worker) => worker.processedSnapshot(reset)));
}

/** Connections per client name (CLIENT LIST). */
export async function connectionsByName(redis: NodeRedis): Promise<Map<string, number>> {
  const list = String(await redis.sendCommand(['CLIENT', 'LIST']));
  const counts = new Map<string, number>();
  for (const match of list.matchAll(/ name=(\S*) /g)) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
  return counts;
}

/** Redis's `maxclients` and the clients connected now. */
export async function clientRoom(redis: NodeRedis): Promise<{ maxClients: number; connected: number }> {
  const [, max] = (await redis.sendCommand(['CONFIG', 'GET', 'maxclients'])) as [string, string];
  const info = String(await redis.sendCommand(['INFO', 'clients']));
  return { maxClients: Number(max), connected: Number(/connected_clients:(\d+)/.exec(info)?.[1] ?? 0) };
}

export async function usedMemory(redis: NodeRedis): Promise<number> {
  const info = String(await redis.sendCommand(['INFO', 'memory']));
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}
