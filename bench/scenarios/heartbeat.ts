/**
 * Scenario 2, heartbeat cost: one idle consumer holding N streams. Calls it sends per second, commands Redis runs
 * for it per second (script-internal ones included), Redis CPU seconds per minute.
 */
import { cleanup, lbsKey, newService, produce, sampleStats, statsDelta, streamNames, type StatsDelta } from '../lib/harness.js';
import { wallNow, type Counters, type Impl } from '../lib/protocol.js';
import { fmt, percentile, sleep, table } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import { sizesFor, wanted, type Context, type Check, type ScenarioResult } from './context.js';

export interface HeartbeatRun {
  impl: Impl | 'none';
  streams: number;
  heartbeatMs: number;
  /** Streams per second from the first XADD until the consumer owned them all (or stopped gaining). */
  loadRate: number;
  /** Streams owned when the window began and when it ended (less than `streams` when it could not hold them). */
  heldAtStart: number;
  heldAtEnd: number;
  windowSeconds: number;
  redis: StatsDelta;
  client: Counters | undefined;
  clientCalls: number;
}

export interface HeartbeatData {
  heartbeatMs: number;
  runs: HeartbeatRun[];
}

const IMPLS: Impl[] = ['ours', 'locks', 'polling'];

export async function heartbeatCost(context: Context): Promise<ScenarioResult> {
  const heartbeatMs = 2000;
  const sizes = sizesFor(context, [1000, 10_000, 100_000], [10, 100]);
  const windowMs = context.smoke ? 2000 : 20_000;
  const runs: HeartbeatRun[] = [];
  const failures: string[] = [];
  const redis = context.bench.redis;

  // Control: Redis with no consumer at all over the same window.
  const idleBefore = await sampleStats(redis);
  await sleep(windowMs);
  runs.push({
    impl: 'none', streams: 0, heartbeatMs, loadRate: Number.NaN, heldAtStart: 0, heldAtEnd: 0, windowSeconds: windowMs / 1000,
    redis: statsDelta(idleBefore, await sampleStats(redis)), client: undefined, clientCalls: 0,
  });

  for (const streams of sizes) {
    for (const impl of IMPLS.filter((name) => wanted(context, name))) {
      const service = newService('h');
      const [worker] = await context.pool.acquire(1);
      try {
        await worker!.start({ impl, url: context.bench.url, serviceName: service, heartbeatMs, autoClaim: true, report: 'count' });
        const startedAt = wallNow();
        await produce(redis, lbsKey(impl, service), streamNames(service, streams));
        await loaded(worker!, streams, 60_000 + streams * 3);
        const loadRate = (worker!.owned / (worker!.lastAt - startedAt)) * 1000;
        // Let the loading settle (the last take calls, a full heartbeat cycle), then measure an idle window.
        await sleep(context.smoke ? 500 : heartbeatMs + 500);
        await worker!.counters(true);
        const heldAtStart = worker!.owned;
        const before = await sampleStats(redis);
        await sleep(windowMs);
        const after = await sampleStats(redis);
        const client = await worker!.counters(true);
        const delta = statsDelta(before, after);
        const clientCalls = Object.values(client.calls).reduce((sum, n) => sum + n, 0);
        const heldAtEnd = worker!.owned;
        runs.push({ impl, streams, heartbeatMs, loadRate, heldAtStart, heldAtEnd, windowSeconds: delta.seconds, redis: delta, client, clientCalls });
        if (impl === 'ours' && heldAtEnd !== streams) failures.push(`heartbeat ${impl} N=${streams}: owned ${heldAtEnd} at the end of the window`);
        if (heldAtStart < streams || heldAtEnd < streams) context.log(`heartbeat: ${impl} N=${streams}: held ${heldAtStart} at the start of the window, ${heldAtEnd} at its end`);
        context.log(
          `heartbeat: ${impl} N=${streams}: loaded at ${fmt(loadRate)} streams/s; ${fmt(clientCalls / delta.seconds, 1)} calls/s, ` +
            `${fmt(delta.commands / delta.seconds, 1)} commands/s, Redis CPU ${fmt((delta.cpuSeconds / delta.seconds) * 60, 2)} s/min`,
        );
        if (worker!.errors.length > 0) context.log(`heartbeat: ${impl} N=${streams}: worker errors: ${worker!.errors.slice(0, 3).join(' | ')}`);
      } finally {
        await context.pool.release([worker!]);
        await cleanup(redis, service);
      }
    }
  }
  const data: HeartbeatData = { heartbeatMs, runs };
  return { name: 'heartbeat', title: 'Heartbeat cost', ...heartbeatReport(data), failures, data, headline: heartbeatHeadline(data) };
}

/** The library's figures for a row per node-redis major: per N, the calls its connections sent and the commands
 * Redis ran, per second, over the idle window. */
export function heartbeatHeadline(data: HeartbeatData): Array<[string, string]> {
  return data.runs
    .filter((run) => run.impl === 'ours')
    .map((run) => [
      `N=${fmt(run.streams)}: calls/s / Redis commands/s`,
      `${fmt(run.clientCalls / run.windowSeconds, 2)} / ${fmt(run.redis.commands / run.windowSeconds, 1)}`,
    ]);
}

/** Waits until the worker owns `streams`, or has stopped gaining streams for 10 s (a baseline that cannot hold
 * them all loses them as fast as it takes them). */
export async function loaded(worker: Worker, streams: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let best = -1;
  let bestAt = performance.now();
  while (worker.owned < streams) {
    if (worker.owned > best) {
      best = worker.owned;
      bestAt = performance.now();
    }
    if (performance.now() - bestAt > 10_000) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: owned ${worker.owned} of ${streams}`);
    await sleep(20);
  }
}

export function heartbeatReport(data: HeartbeatData): { tables: string[]; checks: Check[] } {
  const rows: string[][] = [];
  const checks: Check[] = [];
  for (const run of data.runs) {
    const s = run.windowSeconds;
    const calls = run.redis.calls;
    const scriptedCalls = (calls.evalsha ?? 0) + (calls.eval ?? 0) + (calls.xreadgroup ?? 0);
    const clientPerSecond = run.clientCalls / s;
    const commandsPerSecond = run.redis.commands / s;
    const name = run.impl === 'none' ? 'no consumer (control)' : run.impl === 'ours' ? 'ours' : run.impl === 'locks' ? 'per-stream locks' : 'polling';
    const held = run.heldAtStart < run.streams || run.heldAtEnd < run.streams ? ` (held ${fmt(run.heldAtStart)} → ${fmt(run.heldAtEnd)})` : '';
    const upkeep = [...(run.client?.upkeepMs ?? [])].sort((a, b) => a - b);
    rows.push([
      name,
      run.impl === 'none' ? '–' : `${fmt(run.streams)}${held}`,
      run.impl === 'none' ? '–' : fmt(run.loadRate),
      run.impl === 'none' ? '–' : fmt(clientPerSecond, 1),
      fmt(scriptedCalls / s, 1),
      fmt(commandsPerSecond, 1),
      fmt((run.redis.cpuSeconds / s) * 60, 2),
      upkeep.length > 0 ? `${fmt(percentile(upkeep, 0.5))} / ${fmt(upkeep[upkeep.length - 1]!)}` : '–',
      topCommands(run.redis.calls, s),
    ]);
    if (run.impl === 'ours') {
      checks.push({
        what: `heartbeat cost, N=${fmt(run.streams)}, heartbeatMs ${run.heartbeatMs}`,
        target: '≤ 3 calls/s and ≤ 15 commands/s',
        measured: `${fmt(clientPerSecond, 2)} calls/s, ${fmt(commandsPerSecond, 1)} commands/s`,
        pass: clientPerSecond <= 3 && commandsPerSecond <= 15,
      });
    }
  }
  const caption =
    `One idle consumer, heartbeatMs ${data.heartbeatMs}, window ${fmt(data.runs[0]?.windowSeconds ?? Number.NaN)} s after loading settled. ` +
    `"client calls/s": every command the consumer's connections sent, counted in the consumer process (a script call counts once). ` +
    `"EVALSHA+EVAL+XREADGROUP/s": INFO commandstats delta (XREADGROUP run inside a script counts here too). ` +
    `"Redis commands/s": all INFO commandstats calls (script-internal commands included, the bench's own INFO excluded). ` +
    `"Redis CPU": used_cpu_sys + used_cpu_user delta, the whole redis-server process. ` +
    `"upkeep pass": baselines' per-tick work, every heartbeatMs / 2 (per-stream locks: extending every lock; polling: refreshing every entry's idle time). ` +
    `"held a → b": streams owned at the start and the end of the window, when the consumer could not hold all N.`;
  const headers = [
    'implementation', 'N streams', 'load streams/s', 'client calls/s', 'EVALSHA+EVAL+XREADGROUP/s', 'Redis commands/s', 'Redis CPU s/min',
    'upkeep pass p50 / max ms', 'top commands/s',
  ];
  return { tables: [`${caption}\n\n${table(headers, rows)}`], checks };
}

function topCommands(calls: Record<string, number>, seconds: number): string {
  return Object.entries(calls)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, n]) => `${name} ${fmt(n / seconds, 1)}`)
    .join(', ');
}
