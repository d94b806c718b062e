/**
 * Processing throughput: 4 consumers drain a backlog written before they started (1,000 streams), with a no-op
 * handler; once alone, once while a producer in its own process appends at a steady offered rate.
 */
import { cleanup, newService, sampleStats, statsDelta, streamNames } from '../lib/harness.js';
import type { MetricsMode } from '../lib/metrics-mode.js';
import type { ProduceResult } from '../lib/protocol.js';
import { fmt, processCpuSeconds } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import type { Context } from './context.js';
import { assign, awaitProcessed, fill, processedBy, readingName, snapshots, startFleet, type Reading } from './processing-fleet.js';

export interface ThroughputParams {
  streams: number;
  perStream: number;
  consumers: number;
  /** Offered rate of the concurrent producer (entries/s) and how long it runs; 0 = none. */
  produceRate: number;
  produceMs: number;
  /** ours: how much of the metrics machinery runs (the library as shipped when absent). */
  metrics?: MetricsMode;
}

export interface ThroughputRun extends ThroughputParams {
  reading: Reading;
  backlog: number;
  produced: ProduceResult | undefined;
  /** Handler calls in all, and from the first to the last handler start over all consumers (ms). */
  processed: number;
  spanMs: number;
  /** Streams assigned (LBS) -> last handler start (ms). */
  endToEndMs: number;
  /** With a producer: handler calls from the request to the producer until its reply, as the consumers reported
   * them, and how long that was (ms). */
  processedWhileProducing: number;
  producingWindowMs: number;
  complete: boolean;
  /** CPU time the consumer processes used from the assignment until every entry was processed (s). */
  cpuSeconds: number;
  redisCpuSeconds: number;
  redisCommands: number;
  redisCalls: Record<string, number>;
  errors: string[];
}

export async function runThroughput(context: Context, reading: Reading, params: ThroughputParams): Promise<ThroughputRun> {
  const redis = context.bench.redis;
  const service = newService('pt');
  const names = streamNames(service, params.streams);
  const withProducer = params.produceRate > 0;
  const workers = await context.pool.acquire(params.consumers + (withProducer ? 1 : 0));
  const consumers = workers.slice(0, params.consumers);
  const producer = withProducer ? workers[params.consumers] : undefined;
  try {
    const backlog = await fill(redis, names, params.perStream);
    await startFleet(context, consumers, { reading, serviceName: service, heartbeatMs: 2000, processing: { latencies: false }, report: 'count', ...(params.metrics ? { metrics: params.metrics } : {}) });
    const before = await sampleStats(redis);
    const cpuBefore = consumerCpuSeconds(consumers);
    const assignedAt = performance.timeOrigin + performance.now();
    await assign(redis, service, names);
    const atProducerStart = processedBy(consumers);
    const producerStart = performance.now();
    const produced = await producer?.produce({ url: context.bench.url, streams: names, rate: params.produceRate, durationMs: params.produceMs });
    const producingWindowMs = performance.now() - producerStart;
    const processedWhileProducing = processedBy(consumers) - atProducerStart;
    const total = backlog + (produced?.sent ?? 0);
    const complete = await awaitProcessed(consumers, total, 180_000, 10_000);
    const cpuSeconds = consumerCpuSeconds(consumers) - cpuBefore;
    const after = await sampleStats(redis);
    const records = await snapshots(consumers);
    const firstAt = Math.min(...records.filter((r) => r.count > 0).map((r) => r.firstAt));
    const lastAt = Math.max(...records.map((r) => r.lastAt));
    const processed = records.reduce((sum, r) => sum + r.count, 0);
    const delta = statsDelta(before, after);
    const run: ThroughputRun = {
      ...params,
      reading,
      backlog,
      produced,
      processed,
      spanMs: lastAt - firstAt,
      endToEndMs: lastAt - assignedAt,
      processedWhileProducing,
      producingWindowMs,
      complete,
      cpuSeconds,
      redisCpuSeconds: delta.cpuSeconds,
      redisCommands: delta.commands,
      redisCalls: delta.calls,
      errors: consumers.flatMap((worker) => worker.errors),
    };
    context.log(
      `processing throughput: ${readingName(reading)}${withProducer ? `, producer offering ${fmt(params.produceRate)}/s (achieved ${fmt(achievedRate(produced))}/s)` : ''}: ` +
        `${fmt(processed)}/${fmt(total)} entries in ${fmt(run.spanMs)} ms = ${fmt(entriesPerSecond(run))} entries/s` +
        (withProducer ? `; ${fmt(whileProducingRate(run))} entries/s while the producer ran` : '') +
        (complete ? '' : ` (incomplete: ${fmt(processedBy(consumers))} processed)`),
    );
    return run;
  } finally {
    await context.pool.release(workers);
    await cleanup(redis, service);
  }
}

function consumerCpuSeconds(consumers: readonly Worker[]): number {
  return consumers.reduce((sum, worker) => sum + processCpuSeconds(worker.pid), 0);
}

export function entriesPerSecond(run: ThroughputRun): number {
  return run.spanMs > 0 ? (run.processed / run.spanMs) * 1000 : Number.NaN;
}

export function achievedRate(produced: ProduceResult | undefined): number {
  if (!produced || produced.endedAt <= produced.startedAt) return Number.NaN;
  return (produced.sent / (produced.endedAt - produced.startedAt)) * 1000;
}

/** Handler calls per second while the producer ran. */
export function whileProducingRate(run: ThroughputRun): number {
  if (!run.produced || run.producingWindowMs <= 0) return Number.NaN;
  return (run.processedWhileProducing / run.producingWindowMs) * 1000;
}
