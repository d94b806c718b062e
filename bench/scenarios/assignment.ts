/**
 * Scenario 3, assignment throughput and fairness: streams added as fast as a producer can (pipelined XADD) to 1
 * and 4 idle consumers; streams per second from the first XADD to the last streamAdded; shares among 4 as take.lua
 * hands them out (rebalancing off).
 */
import { cleanup, lbsKey, newService, produce, streamNames } from '../lib/harness.js';
import { wallNow, type Counters, type Impl } from '../lib/protocol.js';
import { fmt, sleep, table, waitUntil } from '../lib/util.js';
import { runsFor, sizesFor, wanted, type Check, type Context, type ScenarioResult } from './context.js';

export interface AssignmentRun {
  impl: Impl;
  consumers: number;
  streams: number;
  /** First XADD sent to the last streamAdded (ms). */
  elapsedMs: number;
  /** How long the producer took to have every XADD acknowledged (ms). */
  produceMs: number;
  shares: number[];
  /** Per consumer: its calls (ours: take.lua calls and their round trips). */
  counters: Counters[];
}

export interface AssignmentData {
  heartbeatMs: number;
  runs: AssignmentRun[];
}

const IMPLS: Impl[] = ['ours', 'locks', 'polling'];

export async function assignment(context: Context): Promise<ScenarioResult> {
  const [streams = 20_000] = sizesFor(context, [20_000], [200]);
  const heartbeatMs = 2000;
  const runCount = runsFor(context, 3);
  const runs: AssignmentRun[] = [];
  const failures: string[] = [];
  const redis = context.bench.redis;
  for (let run = 0; run < runCount; run++) {
    for (const consumers of [1, 4]) {
      for (const impl of IMPLS) {
        if ((impl !== 'ours' && run > 0) || !wanted(context, impl)) continue;
        const service = newService('a');
        const workers = await context.pool.acquire(consumers);
        try {
          await Promise.all(
            // Rebalancing off: this measures how take.lua shares new streams; a stream moved afterwards would be
            // counted as one more grant.
            workers.map((worker) =>
              worker.start({ impl, url: context.bench.url, serviceName: service, heartbeatMs, autoClaim: true, report: 'count', rebalance: false }),
            ),
          );
          // Every consumer is blocked on the LBS by now.
          await sleep(300);
          const startedAt = wallNow();
          await produce(redis, lbsKey(impl, service), streamNames(service, streams), streams);
          const produceMs = wallNow() - startedAt;
          const total = (): number => workers.reduce((sum, worker) => sum + worker.totalAdded, 0);
          await waitUntil(() => total() >= streams, 120_000, `${streams} streams to be assigned`);
          const elapsedMs = Math.max(...workers.map((worker) => worker.lastAt)) - startedAt;
          const shares = workers.map((worker) => worker.totalAdded);
          const counters = await Promise.all(workers.map((worker) => worker.counters()));
          runs.push({ impl, consumers, streams, elapsedMs, produceMs, shares, counters });
          context.log(
            `assignment: ${impl}, ${consumers} consumer(s), run ${run + 1}: ${fmt((streams / elapsedMs) * 1000)} streams/s, shares ${shares.join('/')}`,
          );
          if (total() !== streams) failures.push(`assignment ${impl} ${consumers}: ${total()} grants for ${streams} streams`);
        } finally {
          await context.pool.release(workers);
          await cleanup(redis, service);
        }
      }
    }
  }
  const data: AssignmentData = { heartbeatMs, runs };
  return { name: 'assignment', title: 'Assignment throughput and fairness', ...assignmentReport(data), failures, data };
}

export function assignmentReport(data: AssignmentData): { tables: string[]; checks: Check[] } {
  const rows: string[][] = [];
  const checks: Check[] = [];
  let checked = 0;
  for (const run of data.runs) {
    const rate = (run.streams / run.elapsedMs) * 1000;
    const ratio = Math.max(...run.shares) / Math.max(1, Math.min(...run.shares));
    const name = run.impl === 'ours' ? 'ours' : run.impl === 'locks' ? 'per-stream locks' : 'polling';
    const takes = run.counters.reduce((sum, c) => sum + (c.scripts.take?.calls ?? 0), 0);
    const takeMs = run.counters.reduce((sum, c) => sum + (c.scripts.take?.totalMs ?? 0), 0);
    const reads = run.counters.reduce((sum, c) => sum + (c.calls.XREADGROUP ?? 0), 0);
    rows.push([
      name,
      String(run.consumers),
      fmt(run.streams),
      fmt(run.produceMs),
      fmt(run.elapsedMs),
      fmt(rate),
      run.consumers > 1 ? run.shares.join(' / ') : '–',
      run.consumers > 1 ? fmt(ratio, 2) : '–',
      run.impl === 'ours' ? `${fmt(takes)} take (${fmt(takeMs / Math.max(1, takes), 2)} ms), ${fmt(reads)} XREADGROUP` : `${fmt(reads)} XREADGROUP`,
    ]);
    if (run.impl === 'ours' && run.consumers === 4) {
      const which = `4 consumers, run ${++checked}`;
      checks.push(
        { what: `assignment throughput, ${which}`, target: '≥ 10,000 streams/s', measured: `${fmt(rate)} streams/s`, pass: rate >= 10_000 },
        { what: `assignment shares, ${which} (largest / smallest)`, target: '≤ 1.5', measured: fmt(ratio, 2), pass: ratio <= 1.5 },
      );
    }
  }
  const caption =
    `Streams added with pipelined XADD (all in flight at once) to idle consumers, heartbeatMs ${data.heartbeatMs}. ` +
    `Time from the first XADD to the last streamAdded (or the baseline's grant). Baselines take entries with XREADGROUP COUNT 10.`;
  const headers = [
    'implementation', 'consumers', 'streams', 'producer ms', 'XADD → last added ms', 'streams/s', 'shares', 'largest / smallest',
    'calls (all consumers; mean round trip)',
  ];
  return { tables: [`${caption}\n\n${table(headers, rows)}`], checks };
}
