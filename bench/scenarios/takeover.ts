/**
 * Scenario 1, takeover latency: a consumer holding K streams is SIGKILLed among 4; time from the kill until each
 * of its streams is owned again. heartbeatMs 1000; the database also holds 20,000 unrelated keys with a 1-hour TTL.
 * Rebalancing is off (the victim must keep its streams until the kill), except for one row where the survivors
 * rebalance.
 */
import { addTtlKeys, deleteKeys, newService } from '../lib/harness.js';
import type { Impl } from '../lib/protocol.js';
import { ecdfChart } from '../lib/chart.js';
import { fmt, summarize, table } from '../lib/util.js';
import { runsFor, sizesFor, wanted, type Check, type Context, type ScenarioResult } from './context.js';
import { REBALANCING, VARIANTS, phasesText, runTakeover, runVariant, variantKey, variantName, type TakeoverRun, type Variant } from './takeover-run.js';

/** The rows of the scenario: the takeover variants, with the survivors rebalancing beside ours, autoClaim. */
const ROWS: readonly Variant[] = [VARIANTS[0]!, REBALANCING, ...VARIANTS.slice(1)];
/** The one K at which the survivors also run with rebalancing on (smoke: the largest size). */
const REBALANCING_K = 1000;

export interface TakeoverSeries {
  streams: number;
  variant: string;
  impl: Impl;
  /** Latencies of every run pooled (ms after the kill), ascending. */
  latencies: number[];
  /** Streams to take over, summed over runs. */
  total: number;
  targetMs: number | undefined;
}

export interface TakeoverData {
  heartbeatMs: number;
  ttlKeys: number;
  capMs: Record<Impl, number>;
  runs: TakeoverRun[];
}

export async function takeoverLatency(context: Context): Promise<ScenarioResult> {
  const smoke = context.smoke;
  const heartbeatMs = smoke ? 500 : 1000;
  const sizes = sizesFor(context, [1, 1000, 10_000], [1, 20]);
  const ttlKeys = smoke ? 500 : 20_000;
  const oursRuns = runsFor(context, 3);
  const baselineRuns = runsFor(context, 2);
  const capMs: Record<Impl, number> = {
    ours: heartbeatMs * 3 + 10_000,
    polling: heartbeatMs * 3 + 10_000,
    // The keyspace event of a lock key can come tens of seconds late (DESIGN-NOTES section 1): give up after 60 s.
    locks: smoke ? 3_000 : 60_000,
  };
  const rebalancingAt = sizes.includes(REBALANCING_K) ? REBALANCING_K : smoke ? sizes[sizes.length - 1] : undefined;
  const ttlPrefix = `${newService('ttl')}:`;
  context.log(`takeover: adding ${ttlKeys} unrelated keys with a 1-hour TTL`);
  await addTtlKeys(context.bench.redis, ttlPrefix, ttlKeys);
  const runs: TakeoverRun[] = [];
  const failures: string[] = [];
  try {
    for (const streams of sizes) {
      for (let run = 0; run < Math.max(oursRuns, baselineRuns); run++) {
        for (const variant of ROWS) {
          const { impl, autoClaim, rebalancing } = variant;
          if (run >= (impl === 'ours' ? oursRuns : baselineRuns) || !wanted(context, variantKey(variant))) continue;
          if (rebalancing && streams !== rebalancingAt) continue;
          const label = `${variantName(variant)}, K=${streams}, run ${run + 1}`;
          const params = { impl, autoClaim, rebalancing, streams, survivors: 3, heartbeatMs, capMs: capMs[impl], measureRedis: false };
          const result = await runTakeover(context, params);
          runs.push(result);
          const s = summarize(result.latencies);
          context.log(
            `takeover: ${label}: owned ${streams - result.unowned}/${streams}, p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms` +
              (result.expiryAfterKillMs === null ? '' : `, expiry at +${fmt(result.expiryAfterKillMs)} ms`),
          );
          if (smoke && impl === 'ours' && result.unowned > 0) failures.push(`${label}: ${result.unowned} streams not taken over within ${capMs.ours} ms`);
          if (result.overlaps > 0) context.log(`takeover: ${label}: ${result.overlaps} streams reported owned by two survivors at once (longest ${fmt(result.longestOverlapMs)} ms)`);
          if (result.errors.length > 0) context.log(`takeover: ${label}: ${result.errors.length} worker errors, e.g. ${result.errors[0]}`);
        }
      }
    }
  } finally {
    await deleteKeys(context.bench.redis, [`${ttlPrefix}*`]);
  }
  const data: TakeoverData = { heartbeatMs, ttlKeys, capMs, runs };
  return { name: 'takeover', title: 'Takeover latency', ...takeoverReport(data), failures, data, headline: takeoverHeadline(data) };
}

export function targetFor(streams: number, heartbeatMs: number): number {
  return streams <= 1000 ? heartbeatMs + 150 : heartbeatMs + 1000;
}

export function takeoverSeries(data: TakeoverData): TakeoverSeries[] {
  const series: TakeoverSeries[] = [];
  const sizes = [...new Set(data.runs.map((run) => run.streams))];
  for (const streams of sizes) {
    for (const row of ROWS) {
      const { impl } = row;
      const variant = variantName(row);
      const runs = data.runs.filter((run) => run.streams === streams && variantName(runVariant(run)) === variant);
      if (runs.length === 0) continue;
      series.push({
        streams,
        variant,
        impl,
        latencies: runs.flatMap((run) => run.latencies).sort((a, b) => a - b),
        total: runs.reduce((sum, run) => sum + run.streams, 0),
        targetMs: impl === 'ours' ? targetFor(streams, data.heartbeatMs) : undefined,
      });
    }
  }
  return series;
}

/** The q-quantile of a series' latencies, a stream never owned again within the cap counting as later than it. */
function quantileText(series: TakeoverSeries, q: number, capMs: number): string {
  const rank = Math.ceil(q * series.total);
  return rank > series.latencies.length ? `> ${fmt(capMs)}` : fmt(series.latencies[rank - 1]!);
}

/** The library's figures for a row per node-redis major: ours with autoClaim (its default), p50 / p99 per K. */
export function takeoverHeadline(data: TakeoverData): Array<[string, string]> {
  const autoClaim = variantName(VARIANTS[0]!);
  return takeoverSeries(data)
    .filter((series) => series.variant === autoClaim)
    .map((series) => [
      `K=${fmt(series.streams)}, ${autoClaim}: p50 / p99 ms`,
      `${quantileText(series, 0.5, data.capMs.ours)} / ${quantileText(series, 0.99, data.capMs.ours)}`,
    ]);
}

export function takeoverReport(data: TakeoverData): { tables: string[]; checks: Check[] } {
  const checks: Check[] = [];
  const rows: string[][] = [];
  for (const series of takeoverSeries(data)) {
    const runs = data.runs.filter((run) => run.streams === series.streams && variantName(runVariant(run)) === series.variant);
    const all = summarize(series.latencies);
    const owned = series.latencies.length;
    const missing = series.total - owned;
    const cap = data.capMs[series.impl];
    const p = (q: number): string => quantileText(series, q, cap);
    const perRunP99 = runs.map((run) => {
      const rank = Math.ceil(0.99 * run.streams);
      return rank > run.latencies.length ? Number.POSITIVE_INFINITY : run.latencies[rank - 1]!;
    });
    const expiries = runs.map((run) => run.expiryAfterKillMs).filter((value): value is number => value !== null);
    const known = runs.filter((run) => run.expiryAfterKillMs !== null && run.latencies.length > 0);
    const firstAfterExpiry = known.map((run) => run.latencies[0]! - run.expiryAfterKillMs!);
    const lastAfterExpiry = known.filter((run) => run.unowned === 0).map((run) => run.latencies[run.latencies.length - 1]! - run.expiryAfterKillMs!);
    const lost = runs.reduce((sum, run) => sum + run.disowned, 0);
    const regranted = runs.reduce((sum, run) => sum + run.regranted, 0);
    rows.push([
      fmt(series.streams),
      series.variant,
      String(runs.length),
      `${fmt(owned)}/${fmt(series.total)}`,
      p(0.5),
      p(0.99),
      missing > 0 ? `> ${fmt(cap)}` : fmt(all.max),
      perRunP99.map((value) => (Number.isFinite(value) ? fmt(value) : `>${fmt(cap / 1000)}s`)).join(', '),
      expiries.length ? `${fmt(Math.min(...expiries))}–${fmt(Math.max(...expiries))}` : '–',
      firstAfterExpiry.length ? `${fmt(Math.min(...firstAfterExpiry))}–${fmt(Math.max(...firstAfterExpiry))}` : '–',
      lastAfterExpiry.length ? `${fmt(Math.min(...lastAfterExpiry))}–${fmt(Math.max(...lastAfterExpiry))}` : '–',
      phasesText(runs),
      lost || regranted ? `${fmt(lost)} / ${fmt(regranted)}` : '0',
      series.targetMs === undefined ? '' : `≤ ${fmt(series.targetMs)}`,
    ]);
    if (series.targetMs !== undefined) {
      const p99 = missing > 0 && Math.ceil(0.99 * series.total) > owned ? Number.POSITIVE_INFINITY : all.p99;
      checks.push({
        what: `takeover p99, K=${fmt(series.streams)}, ${series.variant}`,
        target: `≤ ${fmt(series.targetMs)} ms`,
        measured: Number.isFinite(p99) ? `${fmt(p99)} ms (max ${fmt(all.max)})` : `> ${fmt(cap)} ms`,
        pass: p99 <= series.targetMs,
      });
    }
  }
  const table1 = table(
    [
      'K', 'implementation', 'runs', 'owned again', 'p50 ms', 'p99 ms', 'max ms', 'p99 per run ms', 'expiry after kill ms',
      'expiry → first owned ms', 'expiry → last owned ms', 'after expiry: detected / listed / claims done ms', 'survivors lost / re-granted',
      'target p99 ms',
    ],
    rows,
  );
  const caption =
    `Kill (SIGKILL) to owned again, per stream, runs pooled; heartbeatMs ${data.heartbeatMs}, 3 survivors, ${fmt(data.ttlKeys)} ` +
    `unrelated keys with a 1-hour TTL. Every consumer runs with rebalance: false (the victim keeps the streams it took alone ` +
    `until the kill), except the survivors of "rebalancing" (the library's default). "expiry": when the victim's session (ours), lock keys (per-stream locks) or ` +
    `entries' idle time (polling) ran out (ranges over runs). "survivors lost / re-granted": leases the survivors themselves lost ` +
    `(streamDisowned: their own session lapsed) and grants beyond the first per stream. "detected / listed / claims done": ours, ` +
    `medians over survivors of when each sent its first list-orphans.lua call, had the replies to the list-orphans.lua and read-orphans.lua calls sent before ` +
    `its first claim (the first page of ids listed; in manual mode, also read), and had the reply ` +
    `to its last claim.lua call (timed in the survivor processes). Waits capped at ${fmt(data.capMs.locks / 1000)} s (per-stream locks) and ${fmt(data.capMs.ours / 1000)} s (others).`;
  return { tables: [`${caption}\n\n${table1}`], checks };
}

const STYLE: Record<string, { color: string; dash?: string }> = {
  'ours, autoClaim': { color: '#1f5fbf' },
  'ours, autoClaim, rebalancing': { color: '#0b2e6b', dash: '2 3' },
  'ours, manual claim': { color: '#19a7c9', dash: '6 3' },
  'per-stream locks': { color: '#d62728' },
  'polling (XAUTOCLAIM)': { color: '#ef8a17' },
};

export function takeoverChart(data: TakeoverData, meta: { date: string; machine: string }): string {
  const all = takeoverSeries(data);
  const sizes = [...new Set(all.map((series) => series.streams))];
  const runsOf = (variant: string, streams: number): number =>
    data.runs.filter((run) => run.streams === streams && variantName(runVariant(run)) === variant).length;
  const panels = sizes.map((streams) => {
    const series = all.filter((s) => s.streams === streams);
    const target = series.find((s) => s.targetMs !== undefined)?.targetMs;
    return {
      title: `K = ${streams.toLocaleString('en-US')} streams`,
      series: series.map((s) => ({
        label: s.variant,
        ...STYLE[s.variant]!,
        values: s.latencies,
        total: s.total,
        capMs: data.capMs[s.impl],
      })),
      markers: target === undefined ? [] : [{ x: target, label: `target p99 ${target.toLocaleString('en-US')} ms` }],
    };
  });
  const notes = sizes.flatMap((streams) =>
    all
      .filter((s) => s.streams === streams && s.latencies.length < s.total)
      .map(
        (s) =>
          `K = ${streams.toLocaleString('en-US')}, ${s.variant}: ${(((s.total - s.latencies.length) / s.total) * 100).toFixed(1)}% of streams not owned again ` +
          `within ${(data.capMs[s.impl] / 1000).toFixed(0)} s (the dot: where waiting stopped).`,
      ),
  );
  const short = (series: TakeoverSeries): string => (series.impl === 'ours' ? 'ours' : series.impl === 'locks' ? 'per-stream locks' : 'polling');
  const runNote = `runs per K: ${[...new Set(all.map((s) => `${short(s)} ${runsOf(s.variant, s.streams)}`))].join(', ')}`;
  return ecdfChart({
    title: 'Takeover latency after SIGKILL: share of the dead consumer’s streams owned again',
    subtitle: [
      `heartbeatMs ${data.heartbeatMs}, 4 consumers (1 killed), ${data.ttlKeys.toLocaleString('en-US')} unrelated keys with a 1-hour TTL; ${runNote}, pooled`,
      `${meta.date}, ${meta.machine}`,
    ],
    xLabel: 'time since the kill (log scale)',
    panels,
    xMin: 100,
    xMax: Math.max(100_000, 10 ** Math.ceil(Math.log10(Math.max(...data.runs.flatMap((run) => run.latencies), 1)))),
    notes: [...notes, 'Reproduce: npm run bench -- --only=takeover (raw figures: bench/results/*.json). See docs/performance.md.'],
  });
}
