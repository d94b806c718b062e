/**
 * Scenario 4, claim storm: a consumer holding 10,000 streams dies among 4 survivors. Completion time from the
 * expiry, claim attempts per stream, Redis commands per stream, and how evenly the survivors share the work.
 */
import { fmt, table } from '../lib/util.js';
import { runsFor, sizesFor, wanted, type Check, type Context, type ScenarioResult } from './context.js';
import { VARIANTS, phasesText, runTakeover, runVariant, variantKey, variantName, type TakeoverRun } from './takeover-run.js';

export interface StormData {
  streams: number;
  survivors: number;
  heartbeatMs: number;
  runs: TakeoverRun[];
}

export async function claimStorm(context: Context): Promise<ScenarioResult> {
  const [streams = 10_000] = sizesFor(context, [10_000], [100]);
  const heartbeatMs = context.smoke ? 500 : 1000;
  const survivors = 4;
  const oursRuns = runsFor(context, 2);
  const baselineRuns = runsFor(context, 1);
  const runs: TakeoverRun[] = [];
  const failures: string[] = [];
  for (let run = 0; run < Math.max(oursRuns, baselineRuns); run++) {
    for (const variant of VARIANTS) {
      const { impl, autoClaim } = variant;
      if (run >= (impl === 'ours' ? oursRuns : baselineRuns) || !wanted(context, variantKey(variant))) continue;
      const label = `${variantName(variant)}, run ${run + 1}`;
      const result = await runTakeover(context, {
        impl,
        autoClaim,
        streams,
        survivors,
        heartbeatMs,
        capMs: impl === 'locks' ? 60_000 : heartbeatMs * 3 + 10_000,
        measureRedis: true,
      });
      runs.push(result);
      const last = result.latencies[result.latencies.length - 1];
      context.log(
        `claim storm: ${label}: owned ${streams - result.unowned}/${streams}, last at +${fmt(last ?? Number.NaN)} ms after kill, ` +
          `expiry +${fmt(result.expiryAfterKillMs ?? Number.NaN)} ms, claims ${fmt(result.claimAttempts)}, shares ${result.shares.join('/')}`,
      );
      if (impl === 'ours' && result.unowned > 0) failures.push(`claim storm ${label}: ${result.unowned} streams not taken over`);
      if (result.overlaps > 0) context.log(`claim storm: ${label}: ${result.overlaps} streams reported owned by two survivors at once (longest ${fmt(result.longestOverlapMs)} ms)`);
      if (result.errors.length > 0) context.log(`claim storm: ${label}: ${result.errors.length} worker errors, e.g. ${result.errors[0]}`);
    }
  }
  const data: StormData = { streams, survivors, heartbeatMs, runs };
  return { name: 'claim-storm', title: 'Claim storm', ...stormReport(data), failures, data };
}

export function stormReport(data: StormData): { tables: string[]; checks: Check[] } {
  const rows: string[][] = [];
  const checks: Check[] = [];
  const even = data.streams / data.survivors;
  let checked = 0;
  for (const run of data.runs) {
    const last = run.unowned === 0 ? run.latencies[run.latencies.length - 1]! : Number.NaN;
    const fromExpiry = run.expiryAfterKillMs === null ? Number.NaN : last - run.expiryAfterKillMs;
    const commands = run.redis ? run.redis.commands / data.streams : Number.NaN;
    const attempts = run.claimAttempts / data.streams;
    const maxShare = Math.max(...run.shares) / even;
    const minShare = Math.min(...run.shares) / even;
    const variant = variantName(runVariant(run));
    rows.push([
      variant,
      `${fmt(data.streams - run.unowned)}/${fmt(data.streams)}`,
      fmt(run.expiryAfterKillMs ?? Number.NaN),
      run.unowned === 0 ? fmt(last) : `> cap`,
      run.unowned === 0 ? fmt(fromExpiry) : '–',
      run.impl === 'polling' ? `${fmt(run.claimAttempts)} calls` : fmt(attempts, 2),
      fmt(commands, 1),
      run.redis ? fmt(run.redis.cpuSeconds * 1000) : '–',
      run.shares.join(' / '),
      `${fmt(minShare, 2)}–${fmt(maxShare, 2)}`,
      phasesText([run]),
      run.disowned || run.regranted ? `${fmt(run.disowned)} / ${fmt(run.regranted)}` : '0',
    ]);
    if (run.impl === 'ours' && run.mode === 'autoClaim') {
      const which = `claim storm, autoClaim, run ${++checked}`;
      checks.push(
        {
          what: `${which}: all owned after the expiry`,
          target: '≤ 1,000 ms',
          measured: Number.isFinite(fromExpiry) ? `${fmt(fromExpiry)} ms` : 'not all owned',
          pass: fromExpiry <= 1000,
        },
        { what: `${which}: claim attempts per stream`, target: '≤ 2', measured: fmt(attempts, 2), pass: attempts <= 2 },
        {
          what: `${which}: survivor shares vs even`,
          target: 'within 1.5x',
          measured: `${fmt(minShare, 2)}x–${fmt(maxShare, 2)}x`,
          pass: maxShare <= 1.5 && minShare >= 1 / 1.5,
        },
      );
    }
  }
  const caption =
    `${fmt(data.streams)} streams orphaned at once (SIGKILL), ${data.survivors} survivors, heartbeatMs ${data.heartbeatMs}, no other TTL keys. ` +
    `Claim attempts: ours = entries passed to claim.lua (manual: claim() calls); per-stream locks = XCLAIM calls; polling = XAUTOCLAIM calls. ` +
    `Redis commands and CPU: INFO commandstats / INFO cpu deltas from just before the kill until ~0.5 s after the last claim (script-internal commands counted; heartbeats of all survivors included).`;
  const headers = [
    'implementation', 'owned again', 'expiry after kill ms', 'kill → all owned ms', 'expiry → all owned ms', 'claim attempts / stream',
    'Redis commands / stream', 'Redis CPU ms', 'shares', 'share / even', 'after expiry: detected / listed / claims done ms',
    'survivors lost / re-granted',
  ];
  return { tables: [`${caption}\n\n${table(headers, rows)}`], checks };
}
