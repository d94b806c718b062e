/**
 * Scenario 8, rebalancing: (a) scale-out, a 4th consumer joins 3 that own the streams, and (b) rolling restart,
 * each of 4 consumers in turn closes with restart: true and comes back in a new process under its id. Parts:
 * scale-out, restart (--parts); --sizes sets the number of streams of both.
 */
import { fmt, percentile, summarize, table } from '../lib/util.js';
import { partWanted, runsFor, sizesFor, type Check, type Context, type ScenarioResult } from './context.js';
import { runRollingRestart, type RestartRun } from './rebalance-restart.js';
import { runScaleOut, scaleOutLine, type ScaleOutRun } from './rebalance-scale-out.js';

export interface RebalanceData {
  scaleOut: ScaleOutRun[];
  restart: RestartRun[];
}

const HEARTBEAT_MS = 2000;
/** The library's default rebalanceTolerance. */
const TOLERANCE = 0.1;
const RESTART_GRACE_MS = 30_000;
/** Targets: the fleet evened out within 2 heartbeats, at most 5% more streams moved than needed, the gap from a
 * giver's release to the receiver's add. */
const CONVERGENCE_TARGET_MS = 2 * HEARTBEAT_MS;
const MOVED_FACTOR = 1.05;
export const GAP_TARGET_MS = 20;

export async function rebalance(context: Context): Promise<ScenarioResult> {
  const smoke = context.smoke;
  const [scaleOutStreams = 9000] = sizesFor(context, [9000], [90]);
  const [restartStreams = 4000] = sizesFor(context, [4000], [40]);
  const quietMs = smoke ? HEARTBEAT_MS / 2 : 2 * HEARTBEAT_MS;
  const data: RebalanceData = { scaleOut: [], restart: [] };
  const failures: string[] = [];
  if (partWanted(context, 'scale-out')) {
    for (let run = 0; run < runsFor(context, 3); run++) {
      const result = await runScaleOut(context, { streams: scaleOutStreams, consumers: 3, heartbeatMs: HEARTBEAT_MS, tolerance: TOLERANCE, quietMs });
      data.scaleOut.push(result);
      context.log(`rebalance: scale-out, run ${run + 1}: ${scaleOutLine(result)}`);
      if (result.convergenceMs === undefined) failures.push(`rebalance scale-out run ${run + 1}: the counts never came within the fair share`);
      if (result.errors.length > 0) context.log(`rebalance: scale-out: ${result.errors.length} worker errors, e.g. ${result.errors[0]}`);
    }
  }
  if (partWanted(context, 'restart')) {
    const params = { streams: restartStreams, consumers: 4, heartbeatMs: HEARTBEAT_MS, restartGraceMs: RESTART_GRACE_MS, tolerance: TOLERANCE, quietMs: quietMs / 2 };
    const result = await runRollingRestart(context, params);
    data.restart.push(result);
    for (const restart of result.restarts) {
      context.log(
        `rebalance: restart of ${restart.consumerId}: ${restart.back}/${restart.streams} back with origin 'restart' ` +
          `${fmt(restart.ownedAgainMs)} ms after close() (${fmt(restart.ownedAgainAfterInitMs)} ms after init()); ${restart.moved} moved to others`,
      );
      if (restart.back + restart.backOtherwise < restart.streams) failures.push(`rebalance restart of ${restart.consumerId}: not every stream came back`);
    }
    if (result.errors.length > 0) context.log(`rebalance: restart: ${result.errors.length} worker errors, e.g. ${result.errors[0]}`);
  }
  return { name: 'rebalance', title: 'Rebalancing', ...rebalanceReport(data), failures, data };
}

export function rebalanceReport(data: RebalanceData): { tables: string[]; checks: Check[] } {
  const tables: string[] = [];
  const checks: Check[] = [];
  if (data.scaleOut.length > 0) {
    const rows = data.scaleOut.map((run, i) => {
      const gaps = summarize(run.moves.gaps);
      return [
        String(i + 1),
        fmt(run.streams),
        `${run.before.join(' / ')} → ${run.after.join(' / ')}`,
        `${fmt(run.share)} ± ${fmt(run.tolerance)}`,
        run.convergenceMs === undefined ? 'never' : fmt(run.convergenceMs),
        fmt(run.firstReleaseMs),
        fmt(run.lastHandedMs),
        `${fmt(run.moves.released)} (${run.given.join(' / ')})`,
        `${fmt(gaps.p50, 1)} / ${fmt(gaps.p99, 1)} / ${fmt(gaps.max, 1)}`,
        `${run.moves.crossed} / ${run.moves.overlapping}`,
      ];
    });
    const caption =
      `Scale-out: ${data.scaleOut[0]!.consumers} consumers (autoClaim, heartbeatMs ${fmt(data.scaleOut[0]!.heartbeatMs)}, rebalancing on, ` +
      `tolerance ${TOLERANCE} of the share) own the streams evenly; a ${data.scaleOut[0]!.consumers + 1}th joins. From its init() call: ` +
      `when every count was within the fair share ± tolerance for good, the first streamReleased, the last streamAdded of a stream ` +
      `handed over; streams moved (streamReleased, per consumer); per stream moved, giver's streamReleased → receiver's streamAdded ` +
      `(both timestamped in the workers, same machine); receiver's add before the giver's streamReleased event / before the giver's ` +
      `lease ended (its signal aborted, before handoff.lua: a stream owned by two consumers at once). The giver emits streamReleased ` +
      `once handoff.lua has replied, so a receiver may report the stream first.`;
    const headers = [
      'run', 'streams', 'owned before → after', 'fair share', 'init() → all within ms', 'init() → first release ms', 'init() → last handed ms',
      'moved (per consumer)', 'release → add p50 / p99 / max ms', 'add before release / before lease end',
    ];
    tables.push(`${caption}\n\n${table(headers, rows)}`);
    const pair = (values: number[]): string => `${fmt(percentile(values, 0.5), 1)} / ${fmt(percentile(values, 0.99), 1)}`;
    const partRows = data.scaleOut.map((run, i) => [
      String(i + 1),
      run.handoffCalls ? run.handoffCalls.slice(0, run.consumers).join(' / ') : '–',
      run.messagesHeard ? String(run.messagesHeard[run.consumers]) : '–',
      pair(run.moves.gaps),
      pair(run.moves.toHeard),
      pair(run.moves.afterHeard),
    ]);
    const partCaption =
      'Where the release → add gap goes, per stream moved, p50 / p99 ms: from the giver\'s streamReleased to the moment ' +
      'the receiver heard the \'handoff:\' message that named the stream (negative: the giver\'s event, emitted once ' +
      'handoff.lua has replied, came after), and from then to the stream\'s streamAdded (the receiver owning the streams ' +
      'of the message, from the message alone). Calls and messages from the init() call on, timed in the workers.';
    const partHeaders = ['run', 'handoff.lua calls per giver', 'messages heard by the joiner', 'release → add', 'release → heard', 'heard → add'];
    tables.push(`${partCaption}\n\n${table(partHeaders, partRows)}`);
    data.scaleOut.forEach((run, i) => {
      const allowed = Math.floor(MOVED_FACTOR * (run.streams / (run.consumers + 1)));
      checks.push(
        {
          what: `scale-out, run ${i + 1}: init() of the ${run.consumers + 1}th → every count within ${fmt(run.share)} ± ${fmt(run.tolerance)}`,
          target: `≤ ${fmt(CONVERGENCE_TARGET_MS)} ms`,
          measured: run.convergenceMs === undefined ? 'never' : `${fmt(run.convergenceMs)} ms`,
          pass: run.convergenceMs !== undefined && run.convergenceMs <= CONVERGENCE_TARGET_MS,
        },
        { what: `scale-out, run ${i + 1}: streams moved`, target: `≤ ${fmt(allowed)}`, measured: fmt(run.moves.released), pass: run.moves.released <= allowed },
      );
    });
    const gaps = data.scaleOut.flatMap((run) => run.moves.gaps).sort((a, b) => a - b);
    const unmatched = data.scaleOut.reduce((sum, run) => sum + run.moves.unmatched, 0);
    const p99 = percentile(gaps, 0.99);
    checks.push({
      what: `scale-out: giver's streamReleased → receiver's streamAdded, p99 (${data.scaleOut.length} runs pooled)`,
      target: `≤ ${GAP_TARGET_MS} ms`,
      measured: `${fmt(p99, 1)} ms (max ${fmt(gaps.at(-1) ?? Number.NaN, 1)})${unmatched ? `; ${unmatched} releases never added` : ''}`,
      pass: p99 <= GAP_TARGET_MS && unmatched === 0,
    });
    const crossed = data.scaleOut.reduce((sum, run) => sum + run.moves.crossed, 0);
    const overlapping = data.scaleOut.reduce((sum, run) => sum + run.moves.overlapping, 0);
    // The giver ends a lease before handoff.lua moves its stream, and emits streamReleased after the script's reply:
    // a receiver may report its add before that event, never before the lease ended.
    checks.push({
      what: "scale-out: streams owned by two consumers at once (receiver's add before the giver's lease ended)",
      target: '0',
      measured: `${fmt(overlapping)} (adds before the giver's streamReleased event: ${fmt(crossed)})`,
      pass: overlapping === 0,
    });
  }
  for (const run of data.restart) {
    const rows = run.restarts.map((restart) => [
      restart.consumerId.replace(/^.*-(c\d+)$/, '$1'),
      fmt(restart.streams),
      fmt(restart.closeMs),
      fmt(restart.toInitMs),
      fmt(restart.initMs),
      fmt(restart.ownedAgainAfterInitMs),
      fmt(restart.ownedAgainMs),
      `${fmt(restart.back)}${restart.backOtherwise ? ` (+${restart.backOtherwise} otherwise)` : ''}`,
      fmt(restart.moved),
      fmt(restart.released),
    ]);
    const caption =
      `Rolling restart: ${run.consumers} consumers with explicit consumerIds (autoClaim, heartbeatMs ${fmt(run.heartbeatMs)}, rebalancing on, ` +
      `restartGraceMs ${fmt(run.restartGraceMs)}) own ${fmt(run.streams)} streams evenly; each in turn calls close({ restart: true }), then a ` +
      `consumer with its id starts in a new process (started beforehand: Node's start-up is not counted). "moved to others": its streams ` +
      `another consumer reported adding with origin 'takeover' or 'handoff'; "released": streams any live consumer gave away meanwhile.`;
    const headers = [
      'consumer', 'streams', 'close() ms', 'close() → new init() ms', 'init() ms', 'init() → owned again ms', 'close() → owned again ms',
      "back with origin 'restart'", 'moved to others', 'released',
    ];
    tables.push(`${caption}\n\n${table(headers, rows)}`);
    const moved = run.restarts.reduce((sum, restart) => sum + restart.moved, 0);
    const streams = run.restarts.reduce((sum, restart) => sum + restart.streams, 0);
    const back = run.restarts.reduce((sum, restart) => sum + restart.back, 0);
    checks.push(
      { what: `rolling restart (${run.restarts.length} restarts): streams moved to another consumer`, target: '0', measured: fmt(moved), pass: moved === 0 },
      {
        what: "rolling restart: streams the restarted consumer got back with origin 'restart'",
        target: `all (${fmt(streams)})`,
        measured: fmt(back),
        pass: back === streams,
      },
    );
  }
  return { tables, checks };
}
