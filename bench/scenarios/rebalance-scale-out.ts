/**
 * Rebalancing, scale-out: 3 consumers (autoClaim, worker processes, rebalancing on) own the streams, evenly; a 4th
 * joins. From the 4th's init() on: how long until every consumer's count is within its fair share ± the tolerance,
 * how many streams moved, and per stream moved the gap from the giver's streamReleased to the receiver's
 * streamAdded; whether a receiver added a stream before its giver had let it go.
 */
import { cleanup, newService } from '../lib/harness.js';
import { loggedCalls, wallNow } from '../lib/protocol.js';
import { fmt, percentile, sleep, until } from '../lib/util.js';
import type { Context } from './context.js';
import { consumerConfig, loadEvenly } from './rebalance-fleet.js';
import { convergence, lastChange, moves, ownedAt, timeline, type Moves } from './rebalance-timeline.js';

export interface ScaleOutParams {
  streams: number;
  /** Consumers owning the streams before one more joins. */
  consumers: number;
  heartbeatMs: number;
  /** The library's rebalanceTolerance (its default). */
  tolerance: number;
  /** No change reported for this long: the fleet has settled. */
  quietMs: number;
}

export interface ScaleOutRun {
  streams: number;
  consumers: number;
  heartbeatMs: number;
  /** Fair share of each consumer once the new one is in, and how far from it a count may be. */
  share: number;
  tolerance: number;
  /** Per consumer, what it owned when the new one called init() (the new one last: 0). */
  before: number[];
  /** Per consumer, what it owned once the fleet had settled again. */
  after: number[];
  /** The new consumer's init() call until every count was within share ± tolerance for good (ms); undefined: never. */
  convergenceMs: number | undefined;
  /** init() call to the first streamReleased, and to the last streamAdded of a stream handed over (ms). */
  firstReleaseMs: number;
  lastHandedMs: number;
  /** Streams each consumer gave away (streamReleased). */
  given: number[];
  /** handoff.lua calls, and 'handoff:' messages heard, of each consumer from the init() call on (absent in older
   * results). */
  handoffCalls?: number[];
  messagesHeard?: number[];
  moves: Moves;
  errors: string[];
}

export async function runScaleOut(context: Context, params: ScaleOutParams): Promise<ScaleOutRun> {
  const { bench, pool } = context;
  const service = newService('r');
  const workers = await pool.acquire(params.consumers + 1);
  const members = params.consumers + 1;
  const share = params.streams / members;
  const tolerance = Math.max(1, params.tolerance * share);
  const base = consumerConfig(context, service, params.heartbeatMs);
  try {
    const owners = workers.slice(0, params.consumers);
    // The givers time when each lease ends; the joiner only receives, and is spared the cost of timing it.
    await Promise.all(owners.map((worker) => worker.start({ ...base, leaseEnds: true })));
    await loadEvenly(context, owners, service, params);

    await Promise.all(owners.map((worker) => worker.counters(true)));
    const joiner = workers[params.consumers]!;
    await joiner.start(base);
    const from = joiner.initAt;
    const balanced = (): boolean =>
      workers.every((worker) => Math.abs(worker.owned - share) <= tolerance) && wallNow() - lastChange(workers) >= params.quietMs;
    if (!(await until(balanced, 30_000 + params.quietMs, 10))) context.log(`rebalance: the counts did not settle within their share: ${workers.map((w) => w.owned).join('/')}`);
    // Reports in flight (each worker sends its events every 20 ms).
    await sleep(100);

    const counters = await Promise.all(workers.map((worker) => worker.counters()));
    const heard = counters.map((c) => c.handoffMessages.filter(([heardAt]) => heardAt > from));
    const handoffs = counters.map((c) => loggedCalls(c, 'handoff'));
    const events = timeline(workers);
    const after = events.filter((event) => event.at > from);
    const given = workers.map((_, consumer) => after.filter((event) => event.consumer === consumer && event.kind === 'released').length);
    const releases = after.filter((event) => event.kind === 'released');
    const handed = after.filter((event) => event.kind === 'added' && event.origin === 'handoff');
    return {
      streams: params.streams,
      consumers: params.consumers,
      heartbeatMs: params.heartbeatMs,
      share,
      tolerance,
      before: ownedAt(events, members, from).map((streams) => streams.size),
      after: ownedAt(events, members, Number.POSITIVE_INFINITY).map((streams) => streams.size),
      convergenceMs: convergence(events, members, from, share, tolerance),
      firstReleaseMs: (releases[0]?.at ?? Number.NaN) - from,
      lastHandedMs: (handed.at(-1)?.at ?? Number.NaN) - from,
      given,
      moves: moves(events, from, heard),
      handoffCalls: handoffs.map((calls) => calls.length),
      messagesHeard: heard.map((messages) => messages.length),
      errors: workers.flatMap((worker) => worker.errors),
    };
  } finally {
    await pool.release(workers);
    await cleanup(bench.redis, service);
  }
}

/** One line for the log. */
export function scaleOutLine(run: ScaleOutRun): string {
  return (
    `${fmt(run.streams)} streams, ${run.consumers} + 1 consumers: within ${fmt(run.share)} ± ${fmt(run.tolerance)} after ` +
    `${run.convergenceMs === undefined ? 'never' : `${fmt(run.convergenceMs)} ms`}; moved ${fmt(run.moves.released)} ` +
    `(${run.given.join('/')}); release → add p99 ${fmt(percentile(run.moves.gaps, 0.99))} ms; ` +
    `counts ${run.after.join('/')}`
  );
}
