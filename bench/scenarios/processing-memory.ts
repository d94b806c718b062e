/**
 * Heap per owned idle stream while processing: one consumer in a child process run with --expose-gc owns N streams
 * (one entry each, processed, then nothing more), gc() before each sample; heap once it owned them minus heap after
 * init() with nothing owned, divided by N. Measured for the library's leases alone (no run()), for run(), and for
 * the per-stream XREAD baseline (fewer streams: a connection each). Also the connections each one holds.
 */
import { cleanup, newService, streamNames } from '../lib/harness.js';
import type { MemorySample } from '../lib/protocol.js';
import { fmt, sleep } from '../lib/util.js';
import { Worker } from '../lib/workers.js';
import type { Context } from './context.js';
import { assign, awaitOwned, awaitProcessed, connectionsByName, fill } from './processing-fleet.js';

export type MemoryMode = 'leases' | 'run' | 'xread';

export interface ProcessingMemoryRun {
  mode: MemoryMode;
  streams: number;
  before: MemorySample;
  after: MemorySample;
  /** Connections of the consumer (CLIENT LIST) with the streams owned. */
  connections: number;
  complete: boolean;
}

export function memoryModeName(mode: MemoryMode): string {
  if (mode === 'leases') return 'ours, leases only (no run())';
  return mode === 'run' ? 'ours, run()' : 'per-stream XREAD (by hand)';
}

export async function runProcessingMemory(context: Context, mode: MemoryMode, streams: number): Promise<ProcessingMemoryRun> {
  // Settling before the first sample (init's own work done), and idle before the second (positions committed).
  const settleMs = context.smoke ? 200 : 1000;
  const idleMs = context.smoke ? 300 : 1500;
  const redis = context.bench.redis;
  const service = newService('pg');
  const names = streamNames(service, streams);
  const worker = await Worker.spawn({ gc: true });
  try {
    await fill(redis, names, 1);
    await worker.start({
      impl: mode === 'xread' ? 'xread' : 'ours',
      url: context.bench.url,
      serviceName: service,
      heartbeatMs: 2000,
      autoClaim: true,
      report: 'count',
      processing: mode === 'leases' ? undefined : { latencies: false },
    });
    await sleep(settleMs);
    const before = await worker.memory();
    await assign(redis, service, names);
    let complete = await awaitOwned([worker], streams, 60_000 + streams * 3);
    if (mode !== 'leases') complete = (await awaitProcessed([worker], streams, 60_000 + streams * 3, 10_000)) && complete;
    // Idle: positions committed (every 100 ms), nothing read since.
    await sleep(idleMs);
    const after = await worker.memory();
    const connections = (await connectionsByName(redis)).get(worker.consumerId) ?? 0;
    const run: ProcessingMemoryRun = { mode, streams, before, after, connections, complete };
    context.log(
      `processing memory: ${memoryModeName(mode)}, ${fmt(streams)} streams: heap +${fmt(heapPerStream(run))} B/stream, ` +
        `RSS +${fmt((after.rss - before.rss) / streams)} B/stream, ${connections} connections`,
    );
    return run;
  } finally {
    await worker.exit();
    await cleanup(redis, service);
  }
}

export function heapPerStream(run: ProcessingMemoryRun): number {
  return (run.after.heapUsed - run.before.heapUsed) / run.streams;
}
