/**
 * What metrics cost: one consumer draining a backlog (100 streams of 5,000 entries, a no-op eachEntry handler: the
 * library's own work per entry is all there is to slow down) and one idle consumer of 1,000 streams, with metrics
 * off, on (the library as shipped), exported to Prometheus, and exported to OpenTelemetry with and without handler
 * durations, in alternating runs (bench/lib/metrics-mode.ts). One consumer, not four: four processes on two cores
 * made the drain rate swing by 2x from run to run, more than anything measured here.
 */
import { cleanup, lbsKey, newService, produce, sampleStats, statsDelta, streamNames, type StatsDelta } from '../lib/harness.js';
import { METRICS_MODES, SCRAPE_INTERVAL_MS, type MetricsMode } from '../lib/metrics-mode.js';
import { fmt, sleep, table } from '../lib/util.js';
import { partWanted, runsFor, type Check, type Context, type ScenarioResult } from './context.js';
import { loaded } from './heartbeat.js';
import { entriesPerSecond, runThroughput, type ThroughputParams } from './processing-throughput.js';

interface DrainRun {
  mode: MetricsMode;
  entriesPerSecond: number;
  processed: number;
  /** The consumer's CPU time per entry processed (µs). */
  cpuMicrosPerEntry: number;
  complete: boolean;
}

interface HeartbeatRun {
  mode: MetricsMode;
  streams: number;
  redis: StatsDelta;
}

export interface MetricsCostData {
  drain: DrainRun[];
  heartbeat: HeartbeatRun[];
}

const SIZES = {
  full: { drain: { streams: 100, perStream: 5000, consumers: 1, produceRate: 0, produceMs: 0 }, runs: 7, heartbeatStreams: 1000, windowMs: 20_000 },
  smoke: { drain: { streams: 10, perStream: 20, consumers: 1, produceRate: 0, produceMs: 0 }, runs: 1, heartbeatStreams: 10, windowMs: 2000 },
} satisfies Record<string, { drain: ThroughputParams; runs: number; heartbeatStreams: number; windowMs: number }>;

/** The drain rate's medians with metrics on or exported may differ from `off` by this much at most. */
const DRAIN_TOLERANCE = 0.05;

export async function metricsCost(context: Context): Promise<ScenarioResult> {
  const sizes = context.smoke ? SIZES.smoke : SIZES.full;
  const data: MetricsCostData = { drain: [], heartbeat: [] };
  const runs = runsFor(context, sizes.runs);
  // Not counted: the worker's first drain is also its first run of this code (V8 still compiling it), which
  // measured 20 % slower than the rest whatever the mode.
  if (partWanted(context, 'drain') && !context.smoke) await runThroughput(context, 'ours', sizes.drain);
  for (let run = 0; run < (partWanted(context, 'drain') ? runs : 0); run++) {
    // Each round in another order, so that a slow spell of the machine does not fall on one mode.
    for (const mode of rotated(METRICS_MODES, run)) {
      const result = await runThroughput(context, 'ours', { ...sizes.drain, metrics: mode });
      data.drain.push({ mode, processed: result.processed, entriesPerSecond: entriesPerSecond(result), cpuMicrosPerEntry: (result.cpuSeconds / result.processed) * 1e6, complete: result.complete });
    }
  }
  for (const mode of partWanted(context, 'heartbeat') ? METRICS_MODES : []) {
    data.heartbeat.push(await idleHeartbeat(context, mode, sizes.heartbeatStreams, sizes.windowMs));
  }
  const failures = data.drain.filter((run) => !run.complete).map((run) => `metrics cost, drain with metrics ${run.mode}: not every entry processed`);
  return { name: 'metrics-cost', title: 'What metrics cost', ...metricsCostReport(data), failures, data };
}

/** One idle consumer holding `streams`: the commands Redis runs per second over a window. */
async function idleHeartbeat(context: Context, mode: MetricsMode, streams: number, windowMs: number): Promise<HeartbeatRun> {
  const redis = context.bench.redis;
  const service = newService('mc');
  const [worker] = await context.pool.acquire(1);
  try {
    await worker!.start({ impl: 'ours', url: context.bench.url, serviceName: service, heartbeatMs: 2000, autoClaim: true, report: 'count', metrics: mode });
    await produce(redis, lbsKey('ours', service), streamNames(service, streams));
    await loaded(worker!, streams, 60_000);
    await sleep(context.smoke ? 500 : 2500);
    const before = await sampleStats(redis);
    await sleep(windowMs);
    const delta = statsDelta(before, await sampleStats(redis));
    context.log(`metrics cost: heartbeat, metrics ${mode}: ${fmt(delta.commands / delta.seconds, 1)} Redis commands/s`);
    return { mode, streams, redis: delta };
  } finally {
    await context.pool.release([worker!]);
    await cleanup(redis, service);
  }
}

function signed(value: number): string {
  const shown = fmt(Math.abs(value), 1);
  return `${value < 0 && shown !== '0.0' ? '-' : '+'}${shown}`;
}

function rotated<T>(items: readonly T[], by: number): T[] {
  return items.map((_, i) => items[(i + by) % items.length]!);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function metricsCostReport(data: MetricsCostData): { tables: string[]; checks: Check[] } {
  const tables: string[] = [];
  const checks: Check[] = [];
  const medianOf = (mode: MetricsMode, pick: (run: DrainRun) => number): number => median(data.drain.filter((run) => run.mode === mode).map(pick));
  const rate = (run: DrainRun): number => run.entriesPerSecond;
  const cpu = (run: DrainRun): number => run.cpuMicrosPerEntry;
  if (data.drain.length > 0) {
    const versus = (mode: MetricsMode, pick: (run: DrainRun) => number): string =>
      mode === 'off' ? '–' : `${fmt(((medianOf(mode, pick) - medianOf('off', pick)) / medianOf('off', pick)) * 100, 1)} %`;
    tables.push(
      `**Drain, one consumer, ${fmt(data.drain[0]!.processed)} entries, a no-op handler; the modes alternate, each round in another order**\n\n` +
        table(
          ['metrics', 'runs (entries/s)', 'median entries/s', 'vs off', 'CPU µs per entry (median)', 'vs off'],
          METRICS_MODES.map((mode) => [
            mode,
            data.drain.filter((run) => run.mode === mode).map((run) => fmt(run.entriesPerSecond)).join(', '),
            fmt(medianOf(mode, rate)),
            versus(mode, rate),
            fmt(medianOf(mode, cpu), 2),
            versus(mode, cpu),
          ]),
        ),
    );
    for (const mode of ['on', 'prometheus', 'otel', 'otel-lean'] as const) {
      const change = (medianOf(mode, rate) - medianOf('off', rate)) / medianOf('off', rate);
      checks.push({
        what: `drain throughput, metrics ${mode} vs off (medians)`,
        target: `within ${DRAIN_TOLERANCE * 100} %`,
        measured: `${fmt(change * 100, 1)} %`,
        pass: Math.abs(change) <= DRAIN_TOLERANCE,
      });
    }
  }
  if (data.heartbeat.length > 0) {
    const perSecond = (run: HeartbeatRun): number => run.redis.commands / run.redis.seconds;
    const off = data.heartbeat.find((run) => run.mode === 'off');
    tables.push(
      `**Idle consumer of ${fmt(data.heartbeat[0]!.streams)} streams: Redis commands/s (prometheus, otel: a scrape or collection every ${SCRAPE_INTERVAL_MS / 1000} s, each reading serviceMetrics())**\n\n` +
        table(
          ['metrics', 'commands/s', 'vs off'],
          data.heartbeat.map((run) => [run.mode, fmt(perSecond(run), 1), off && run !== off ? signed(perSecond(run) - perSecond(off)) : '–']),
        ),
    );
    const on = data.heartbeat.find((run) => run.mode === 'on');
    if (off && on) {
      checks.push({
        what: 'heartbeat commands/s, metrics on vs off',
        target: 'unchanged (within 0.5 commands/s)',
        measured: `${fmt(perSecond(on), 1)} vs ${fmt(perSecond(off), 1)}`,
        pass: Math.abs(perSecond(on) - perSecond(off)) <= 0.5,
      });
    }
  }
  return { tables, checks };
}
