/**
 * Scenario 6, memory: heap and RSS of a client process per owned stream, at 100,000 streams. Measured in a child
 * process run with --expose-gc: after init with nothing owned, then after owning them all (gc() before each).
 */
import { cleanup, lbsKey, newService, produce, streamNames } from '../lib/harness.js';
import { wallNow, type MemorySample } from '../lib/protocol.js';
import { fmt, sleep, table, waitUntil } from '../lib/util.js';
import { Worker } from '../lib/workers.js';
import { sizesFor, type Check, type Context, type ScenarioResult } from './context.js';

export interface MemoryData {
  streams: number;
  heartbeatMs: number;
  before: MemorySample;
  after: MemorySample;
  /** Streams per second from the first XADD to the last streamAdded, one consumer taking them. */
  loadRate: number;
}

export async function memory(context: Context): Promise<ScenarioResult> {
  const [streams = 100_000] = sizesFor(context, [100_000], [1000]);
  const heartbeatMs = 2000;
  const service = newService('m');
  const worker = await Worker.spawn({ gc: true, client: context.pool.client });
  try {
    await worker.start({ impl: 'ours', url: context.bench.url, serviceName: service, heartbeatMs, autoClaim: true, report: 'count' });
    await sleep(1000);
    const before = await worker.memory();
    const startedAt = wallNow();
    await produce(context.bench.redis, lbsKey('ours', service), streamNames(service, streams));
    await waitUntil(() => worker.owned >= streams, 60_000 + streams * 3, `the consumer to own ${streams} streams`);
    const loadRate = (streams / (worker.lastAt - startedAt)) * 1000;
    await sleep(1000);
    const after = await worker.memory();
    const data: MemoryData = { streams, heartbeatMs, before, after, loadRate };
    context.log(
      `memory: ${fmt(streams)} streams loaded at ${fmt(loadRate)} streams/s; heap +${fmt((after.heapUsed - before.heapUsed) / streams)} B/stream, ` +
        `RSS +${fmt((after.rss - before.rss) / streams)} B/stream`,
    );
    return { name: 'memory', title: 'Client memory per owned stream', ...memoryReport(data), failures: [], data };
  } finally {
    await worker.exit();
    await cleanup(context.bench.redis, service);
  }
}

export function memoryReport(data: MemoryData): { tables: string[]; checks: Check[] } {
  const rows: string[][] = [];
  const per = (key: keyof MemorySample): number => (data.after[key] - data.before[key]) / data.streams;
  const mb = (bytes: number): string => fmt(bytes / 1024 / 1024, 1);
  for (const key of ['heapUsed', 'external', 'rss'] as const) {
    rows.push([key, mb(data.before[key]), mb(data.after[key]), fmt(per(key))]);
  }
  const heap = per('heapUsed');
  const rss = per('rss');
  const checks: Check[] = [
    { what: `client heap per owned stream (${fmt(data.streams)} streams)`, target: '≤ 1,024 B', measured: `${fmt(heap)} B`, pass: heap <= 1024 },
    { what: `client RSS per owned stream (${fmt(data.streams)} streams)`, target: '≤ 1,024 B', measured: `${fmt(rss)} B`, pass: rss <= 1024 },
  ];
  const caption =
    `One consumer (ours, heartbeatMs ${data.heartbeatMs}) in a child process with --expose-gc; gc() four times before each sample; ` +
    `"before" after init() with nothing owned, "after" once it owned ${fmt(data.streams)} streams (taken from the LBS at ${fmt(data.loadRate)} streams/s). ` +
    'The listener only counts streamAdded (keeps nothing per stream).';
  return { tables: [`${caption}\n\n${table(['measure', 'before MB', 'after MB', 'bytes per stream'], rows)}`], checks };
}
