/**
 * Heap per owned idle stream while processing: one consumer in a child process run with --expose-gc is given N
 * streams in two halves (one entry each, processed, then nothing more), gc() before each sample. Per stream: heap once
 * it owned all minus heap once it owned half, divided by N / 2, so that what does not grow with the streams (the
 * processing's connections and their buffers, a few MB that the first half pays for) is left out; "with fixed
 * costs": heap once it owned all minus heap after init() with nothing owned, divided by N. Measured for the
 * library's leases alone (no run()), for run(), and for the per-stream XREAD baseline (fewer streams: a connection
 * each). Also the connections each one holds.
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
  /** Once it owned (and processed) the first half of the streams. */
  half: MemorySample;
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
  const worker = await Worker.spawn({ gc: true, client: context.pool.client });
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
    const halves = [names.slice(0, Math.floor(streams / 2)), names.slice(Math.floor(streams / 2))];
    let complete = true;
    const samples: MemorySample[] = [];
    let owned = 0;
    for (const half of halves) {
      await assign(redis, service, half);
      owned += half.length;
      complete = (await awaitOwned([worker], owned, 60_000 + streams * 3)) && complete;
      if (mode !== 'leases') complete = (await awaitProcessed([worker], owned, 60_000 + streams * 3, 10_000)) && complete;
      // Idle: positions committed (every 100 ms), nothing read since.
      await sleep(idleMs);
      samples.push(await worker.memory());
    }
    const [half, after] = samples as [MemorySample, MemorySample];
    const connections = (await connectionsByName(redis)).get(worker.consumerId) ?? 0;
    const run: ProcessingMemoryRun = { mode, streams, before, half, after, connections, complete };
    context.log(
      `processing memory: ${memoryModeName(mode)}, ${fmt(streams)} streams: heap +${fmt(heapPerStream(run))} B/stream ` +
        `(${fmt(heapWithFixedCosts(run))} with fixed costs), ` +
        `RSS +${fmt((after.rss - before.rss) / streams)} B/stream, ${connections} connections`,
    );
    return run;
  } finally {
    await worker.exit();
    await cleanup(redis, service);
  }
}

/** Heap per stream of the second half of the streams: what each more stream costs. */
export function heapPerStream(run: ProcessingMemoryRun): number {
  return (run.after.heapUsed - run.half.heapUsed) / (run.streams - Math.floor(run.streams / 2));
}

/** Heap per stream from before anything was owned: with what does not grow with the streams. */
export function heapWithFixedCosts(run: ProcessingMemoryRun): number {
  return (run.after.heapUsed - run.before.heapUsed) / run.streams;
}
