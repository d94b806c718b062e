/**
 * Scenario 5, hand-off: a consumer holding 1,000 streams calls close(); time until each is owned by one of the
 * 3 others (autoClaim). Run at heartbeatMs 2000 and 10000: the hand-off must not wait for a heartbeat. Rebalancing
 * is off: the closer must keep the streams it took alone until close(), which it would otherwise start handing to the
 * others as soon as they joined. The closer's and the receivers' script calls are timed in their processes, for the
 * steps of the hand-off (bench/probes/handoff-timeline.ts times each one).
 */
import { cleanup, lbsKey, newService, produce, streamNames } from '../lib/harness.js';
import { loggedCalls, type Counters } from '../lib/protocol.js';
import { fmt, percentile, sleep, summarize, table, waitUntil } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import { runsFor, sizesFor, type Check, type Context, type ScenarioResult } from './context.js';

export interface HandoffRun {
  heartbeatMs: number;
  streams: number;
  /** close() call to its return (ms). */
  closeMs: number;
  /** Per stream: close() call to owned by another consumer (ms), ascending. */
  latencies: number[];
  unowned: number;
  shares: number[];
  /** Per consumer taking over: its script calls, timed. */
  counters: Counters[];
  /** The closer's script calls during close(), timed (absent in results of runs before it was recorded). */
  closerCounters?: Counters;
  /** close() call, wall-clock ms (absent before it was recorded). */
  closeAt?: number;
}

/** Target p99, close() call to owned again. */
const TARGET_MS = 20;

export interface HandoffData {
  runs: HandoffRun[];
}

export async function handoff(context: Context): Promise<ScenarioResult> {
  const [streams = 1000] = sizesFor(context, [1000], [50]);
  const runCount = runsFor(context, 3);
  const runs: HandoffRun[] = [];
  const failures: string[] = [];
  const redis = context.bench.redis;
  for (let run = 0; run < runCount; run++) {
    for (const heartbeatMs of [2000, 10_000]) {
      const service = newService('c');
      const workers: Worker[] = [];
      try {
        const names = streamNames(service, streams);
        await produce(redis, lbsKey('ours', service), names);
        const base = { impl: 'ours' as const, url: context.bench.url, serviceName: service, heartbeatMs, autoClaim: true, rebalance: false };
        const [closer] = await context.pool.acquire(1);
        workers.push(closer!);
        await closer!.start({ ...base, report: 'count' });
        await waitUntil(() => closer!.owned >= streams, 60_000, `the closing consumer to own ${streams} streams`);
        const others = await context.pool.acquire(3);
        workers.push(...others);
        await Promise.all(others.map((worker) => worker.start({ ...base, report: 'each' })));
        // Close at a random point of the heartbeat cycle (heartbeatMs / 3).
        await sleep(200 + Math.random() * (context.smoke ? 200 : heartbeatMs / 3));
        await Promise.all(workers.map((worker) => worker.counters(true)));
        const { startedAt, endedAt } = await closer!.close();
        const done = (): boolean => others.reduce((sum, worker) => sum + worker.added.length, 0) >= streams;
        await waitUntil(done, heartbeatMs * 3 + 10_000, 'the streams to be handed over').catch(() => undefined);
        const first = new Map<string, number>();
        for (const worker of others) for (const [stream, at] of worker.added) first.set(stream, Math.min(at, first.get(stream) ?? at));
        const latencies = [...first.values()].map((at) => at - startedAt).sort((a, b) => a - b);
        const result: HandoffRun = {
          heartbeatMs,
          streams,
          closeMs: endedAt - startedAt,
          latencies,
          unowned: streams - first.size,
          shares: others.map((worker) => worker.added.length),
          counters: await Promise.all(others.map((worker) => worker.counters())),
          closerCounters: await closer!.counters(),
          closeAt: startedAt,
        };
        runs.push(result);
        const s = summarize(latencies);
        context.log(
          `hand-off: heartbeatMs ${heartbeatMs}, run ${run + 1}: close() ${fmt(result.closeMs)} ms; owned again p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms` +
            (result.unowned ? `; ${result.unowned} not owned` : ''),
        );
        if (result.unowned > 0) failures.push(`hand-off heartbeatMs ${heartbeatMs}: ${result.unowned} streams not handed over`);
      } finally {
        await context.pool.release(workers);
        await cleanup(redis, service);
      }
    }
  }
  const data: HandoffData = { runs };
  return { name: 'handoff', title: 'Hand-off on close()', ...handoffReport(data), failures, data };
}

/** One run's hand-off steps, ms after the close() call, from the script calls timed in the closer and the receivers. */
interface Steps {
  /** handoff.lua calls (the closer's). */
  calls: number;
  firstSent: number;
  lastReply: number;
  /** Sum of the handoff.lua round trips. */
  roundTrips: number;
  /** The receivers' 'handoff:' messages: how many, the first and last heard, and the sum of the ms the library took
   * to own the streams of each. */
  messages: number;
  firstHeard: number;
  lastHeard: number;
  handled: number;
  lastAdded: number;
}

function stepsOf(run: HandoffRun): Steps | undefined {
  const closeAt = run.closeAt;
  const handoffs = run.closerCounters ? loggedCalls(run.closerCounters, 'handoff') : [];
  if (closeAt === undefined || handoffs.length === 0) return undefined;
  const heard = run.counters.flatMap((counters) => counters.handoffMessages);
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  return {
    calls: handoffs.length,
    firstSent: handoffs[0]![1] - closeAt,
    lastReply: Math.max(...handoffs.map(([, sentAt, ms]) => sentAt + ms)) - closeAt,
    roundTrips: sum(handoffs.map(([, , ms]) => ms)),
    messages: heard.length,
    firstHeard: Math.min(...heard.map(([at]) => at)) - closeAt,
    lastHeard: Math.max(...heard.map(([at]) => at)) - closeAt,
    handled: sum(heard.map(([, ms]) => ms)),
    lastAdded: run.latencies[run.latencies.length - 1] ?? Number.NaN,
  };
}

export function handoffReport(data: HandoffData): { tables: string[]; checks: Check[] } {
  const rows: string[][] = [];
  const stepRows: string[][] = [];
  const checks: Check[] = [];
  for (const heartbeatMs of [...new Set(data.runs.map((run) => run.heartbeatMs))]) {
    const runs = data.runs.filter((run) => run.heartbeatMs === heartbeatMs);
    const all = summarize(runs.flatMap((run) => run.latencies));
    const unowned = runs.reduce((sum, run) => sum + run.unowned, 0);
    const p99 = unowned > 0 ? Number.POSITIVE_INFINITY : all.p99;
    rows.push([
      fmt(heartbeatMs),
      String(runs.length),
      fmt(runs[0]?.streams ?? Number.NaN),
      runs.map((run) => fmt(run.closeMs)).join(', '),
      fmt(all.p50),
      Number.isFinite(p99) ? fmt(p99) : `${unowned} not owned`,
      fmt(all.max),
      runs.map((run) => fmt(summarize(run.latencies).p99)).join(', '),
      `≤ ${TARGET_MS}`,
    ]);
    checks.push({
      what: `hand-off p99, heartbeatMs ${fmt(heartbeatMs)}`,
      target: `≤ ${TARGET_MS} ms`,
      measured: Number.isFinite(p99) ? `${fmt(p99)} ms (max ${fmt(all.max)})` : `${unowned} streams not handed over`,
      pass: p99 <= TARGET_MS,
    });
    const steps = runs.map(stepsOf).filter((step): step is Steps => step !== undefined);
    if (steps.length === 0) continue;
    const median = (pick: (step: Steps) => number, digits = 1): string => fmt(percentile(steps.map(pick).sort((a, b) => a - b), 0.5), digits);
    stepRows.push([
      fmt(heartbeatMs),
      median((step) => step.calls, 0),
      median((step) => step.firstSent),
      median((step) => step.roundTrips),
      median((step) => step.lastReply),
      median((step) => step.messages, 0),
      median((step) => step.firstHeard),
      median((step) => step.lastHeard),
      median((step) => step.handled),
      median((step) => step.lastAdded),
    ]);
  }
  const caption =
    'A consumer owning the streams calls close() among 3 others (autoClaim; rebalancing off, so that the closer keeps ' +
    'what it took alone until close()); per stream, close() call to owned by another consumer, runs pooled. The ' +
    'baselines have no hand-off (their streams are taken over only after expiry).';
  const headers = ['heartbeatMs', 'runs', 'streams', 'close() ms per run', 'p50 ms', 'p99 ms', 'max ms', 'p99 per run ms', 'target p99 ms'];
  const tables = [`${caption}\n\n${table(headers, rows)}`];
  if (stepRows.length > 0) {
    const stepCaption =
      'The steps, medians over the runs, ms after the close() call: the closer\'s handoff.lua calls (timed in the closer, ' +
      'from send to reply), the \'handoff:\' messages the receivers heard (each names the streams it hands over; the ' +
      'receiver owns them from it alone), the ms the receivers\' library took to own their streams (all messages, summed) ' +
      'and the last streamAdded. See bench/probes/handoff-timeline.ts for every step of one hand-off.';
    const stepHeaders = [
      'heartbeatMs', 'handoff.lua calls', 'first sent', 'round trips (sum)', 'last reply', 'messages heard', 'first heard', 'last heard',
      'owning their streams (sum)', 'last streamAdded',
    ];
    tables.push(`${stepCaption}\n\n${table(stepHeaders, stepRows)}`);
  }
  return { tables, checks };
}
