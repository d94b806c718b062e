/**
 * Many owned streams under a steady load: 4 consumers own 10,000 streams, a producer in its own process offers
 * 20,000 entries/s spread evenly over them. Does reading keep up, how long from append to handler start, how many
 * connections each consumer holds, and what an idle second costs Redis.
 *
 * The per-stream XREAD baseline needs a connection per stream. Its consumers are capped so that Redis keeps room
 * for every other client (maxclients minus those connected minus a margin): streams beyond the cap stay owned and
 * unread, and are reported as such.
 */
import { cleanup, newService, sampleStats, statsDelta, streamNames, type StatsDelta } from '../lib/harness.js';
import type { ProduceResult } from '../lib/protocol.js';
import { fmt, sleep, summarize } from '../lib/util.js';
import type { Context } from './context.js';
import {
  assign,
  awaitOwned,
  awaitProcessed,
  clientRoom,
  connectionsByName,
  fill,
  processedBy,
  readingName,
  snapshots,
  startFleet,
  usedMemory,
  type Reading,
} from './processing-fleet.js';

/** Connections left to other clients when the baseline is capped. */
const CLIENT_MARGIN = 64;

export interface ManyStreamsParams {
  streams: number;
  consumers: number;
  rate: number;
  produceMs: number;
  idleMs: number;
  heartbeatMs: number;
}

export interface ManyStreamsRun extends ManyStreamsParams {
  reading: Reading;
  /** xread: the most reading connections per consumer. */
  maxReaders: number | undefined;
  /** Streams each consumer owned, and whose first entry it processed (read at least once). */
  owned: number[];
  read: number;
  /** Streams assigned -> every readable stream's first entry processed (ms). */
  readyMs: number;
  /** Connections per consumer (CLIENT LIST), and xread's reading connections refused. */
  connections: number[];
  readersFailed: number;
  /** Redis used_memory (bytes) before the consumers started and once every stream was read. */
  redisMemoryBefore: number;
  redisMemoryReady: number;
  /** Consumers' RSS once every stream was read (bytes). */
  rss: number[];
  idle: StatsDelta;
  produced: ProduceResult;
  load: StatsDelta;
  /** Handler calls when the producer replied, in all at the end, and producer reply -> last call (ms). */
  processedAtProducerEnd: number;
  processed: number;
  drainMs: number;
  /** Append -> handler start (ms), all consumers, ascending. */
  latencies: number[];
  /** Streams the consumers lost (streamDisowned: a session lapsed) over the whole run. */
  disowned: number;
  errors: string[];
}

export async function runManyStreams(context: Context, reading: Reading, params: ManyStreamsParams): Promise<ManyStreamsRun> {
  const redis = context.bench.redis;
  const service = newService('pm');
  const names = streamNames(service, params.streams);
  const workers = await context.pool.acquire(params.consumers + 1);
  const consumers = workers.slice(0, params.consumers);
  const producer = workers[params.consumers]!;
  try {
    // One entry per stream: its processing shows that the stream is read.
    await fill(redis, names, 1);
    const redisMemoryBefore = await usedMemory(redis);
    let maxReaders: number | undefined;
    if (reading === 'xread') {
      const room = await clientRoom(redis);
      // Each consumer also holds the library's connections (4) and the producer one.
      maxReaders = Math.floor((room.maxClients - room.connected - CLIENT_MARGIN - params.consumers * 4 - 1) / params.consumers);
    }
    await startFleet(context, consumers, {
      reading,
      serviceName: service,
      heartbeatMs: params.heartbeatMs,
      processing: { latencies: true, maxReaders },
      report: 'count',
    });
    const assignedAt = performance.now();
    await assign(redis, service, names);
    if (!(await awaitOwned(consumers, params.streams, 120_000))) context.log(`processing many streams: ${readingName(reading)}: owned only ${consumers.map((w) => w.owned).join(' + ')}`);
    const owned = consumers.map((worker) => worker.owned);
    const readable = owned.reduce((sum, n) => sum + Math.min(n, maxReaders ?? n), 0);
    await awaitProcessed(consumers, readable, 180_000, 10_000);
    const readyMs = performance.now() - assignedAt;
    const read = processedBy(consumers);
    const byName = await connectionsByName(redis);
    const connections = consumers.map((worker) => byName.get(worker.consumerId) ?? 0);
    const ready = await snapshots(consumers, true);
    const readersFailed = ready.reduce((sum, r) => sum + r.readersFailed, 0);
    const redisMemoryReady = await usedMemory(redis);
    const rss = (await Promise.all(consumers.map((worker) => worker.memory()))).map((memory) => memory.rss);
    context.log(
      `processing many streams: ${readingName(reading)}: ${fmt(read)}/${fmt(params.streams)} streams read ${fmt(readyMs)} ms after assignment; ` +
        `connections per consumer ${connections.join(', ')}; Redis used_memory +${fmt((redisMemoryReady - redisMemoryBefore) / 2 ** 20)} MB`,
    );

    const idleBefore = await sampleStats(redis);
    await sleep(params.idleMs);
    const idle = statsDelta(idleBefore, await sampleStats(redis));

    const loadBefore = await sampleStats(redis);
    const produced = await producer.produce({ url: context.bench.url, streams: names, rate: params.rate, durationMs: params.produceMs });
    const producerEnd = performance.now();
    const processedAtProducerEnd = processedBy(consumers);
    await awaitProcessed(consumers, produced.sent, 60_000, 3000);
    const load = statsDelta(loadBefore, await sampleStats(redis));
    const records = await snapshots(consumers);
    const lastAt = Math.max(...records.map((r) => r.lastAt));
    const processed = records.reduce((sum, r) => sum + r.count, 0);
    const latencies = records.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const disowned = (await Promise.all(consumers.map((worker) => worker.counters()))).reduce((sum, c) => sum + c.disowned, 0);
    const run: ManyStreamsRun = {
      ...params,
      reading,
      maxReaders,
      owned,
      read,
      readyMs,
      connections,
      readersFailed,
      redisMemoryBefore,
      redisMemoryReady,
      rss,
      idle,
      produced,
      load,
      processedAtProducerEnd,
      processed,
      drainMs: Math.max(0, lastAt - (performance.timeOrigin + producerEnd)),
      latencies,
      disowned,
      errors: consumers.flatMap((worker) => worker.errors),
    };
    const s = summarize(latencies);
    context.log(
      `processing many streams: ${readingName(reading)}: produced ${fmt(produced.sent)} at ${fmt(offeredRate(run))}/s, processed ${fmt(processed)}; ` +
        `append -> start p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms`,
    );
    return run;
  } finally {
    await context.pool.release(workers);
    await cleanup(redis, service);
  }
}

/** The rate the producer achieved (entries/s). */
export function offeredRate(run: ManyStreamsRun): number {
  const ms = run.produced.endedAt - run.produced.startedAt;
  return ms > 0 ? (run.produced.sent / ms) * 1000 : Number.NaN;
}
