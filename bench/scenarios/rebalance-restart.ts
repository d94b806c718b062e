/**
 * Rebalancing, rolling restart: consumers with explicit consumerIds (autoClaim, worker processes, rebalancing on)
 * own the streams, evenly; each in turn calls close({ restart: true }) and a new process starts a consumer under the
 * same id within restartGraceMs. Every stream of the restarted consumer should come back to it (origin 'restart'),
 * none should go to another consumer (origin 'takeover' or 'handoff'); and how long it takes.
 */
import { cleanup, newService } from '../lib/harness.js';
import { wallNow, type AddedItem } from '../lib/protocol.js';
import { sleep, waitUntil } from '../lib/util.js';
import type { Context } from './context.js';
import { consumerConfig, loadEvenly } from './rebalance-fleet.js';
import { ownedAt, timeline } from './rebalance-timeline.js';

export interface RestartParams {
  streams: number;
  consumers: number;
  heartbeatMs: number;
  restartGraceMs: number;
  /** The library's rebalanceTolerance (its default). */
  tolerance: number;
  /** No change reported for this long: the fleet has settled. */
  quietMs: number;
}

export interface Restart {
  consumerId: string;
  /** Streams it owned when it closed. */
  streams: number;
  /** close({ restart: true }) call to its return (ms). */
  closeMs: number;
  /** close() call to the new process's init() call, and init() call to its return (ms). */
  toInitMs: number;
  initMs: number;
  /** close() call, and the new init() call, to the last of its streams owned again by the new process (ms). */
  ownedAgainMs: number;
  ownedAgainAfterInitMs: number;
  /** Per stream, close() call to owned again by the new process (ms), ascending. */
  latencies: number[];
  /** Of its streams: taken back by the new process with origin 'restart', and with another origin. */
  back: number;
  backOtherwise: number;
  /** Of its streams: reported added by another consumer (origin 'takeover' or 'handoff') until the next restart. */
  moved: number;
  /** Streams released by any consumer (rebalancing) from its close() until the next restart. */
  released: number;
}

export interface RestartRun {
  streams: number;
  consumers: number;
  heartbeatMs: number;
  restartGraceMs: number;
  restarts: Restart[];
  errors: string[];
}

export async function runRollingRestart(context: Context, params: RestartParams): Promise<RestartRun> {
  const { bench, pool } = context;
  const service = newService('rr');
  const fleet = await pool.acquire(params.consumers);
  const ids = fleet.map((_, i) => `${service}-c${i}`);
  const base = { ...consumerConfig(context, service, params.heartbeatMs), restartGraceMs: params.restartGraceMs };
  const restarts: Restart[] = [];
  const errors: string[] = [];
  try {
    await Promise.all(fleet.map((worker, i) => worker.start({ ...base, consumerId: ids[i] })));
    await loadEvenly(context, fleet, service, params);

    for (let i = 0; i < params.consumers; i++) {
      const old = fleet[i]!;
      const [mine] = ownedAt(timeline([old]), 1, Number.POSITIVE_INFINITY) as [Set<string>];
      // The next process is up before the old one closes, so that starting Node and tsx is not counted.
      const [next] = await pool.spawn(1);
      const others = fleet.filter((worker) => worker !== old);
      const { startedAt: closeAt, endedAt: closedAt } = await old.close(true);
      errors.push(...old.errors);
      const exited = old.exit();
      await next!.start({ ...base, consumerId: ids[i] });
      fleet[i] = next!;
      const initAt = next!.initAt;
      const initDoneAt = wallNow();
      const back = (): AddedItem[] => next!.added.filter(([stream]) => mine.has(stream));
      await waitUntil(() => back().length >= mine.size, params.restartGraceMs, `${ids[i]} to own its ${mine.size} streams again`);
      const ownedAgainAt = Math.max(...back().map(([, at]) => at));
      await exited;
      // Whatever the restart set off (a rebalancing round after the membership changed) has had a heartbeat to show.
      await sleep(params.quietMs);
      const moved = others.flatMap((worker) =>
        worker.added.filter(([stream, at, , origin]) => at >= closeAt && mine.has(stream) && (origin === 'takeover' || origin === 'handoff')),
      );
      restarts.push({
        consumerId: ids[i]!,
        streams: mine.size,
        closeMs: closedAt - closeAt,
        toInitMs: initAt - closeAt,
        initMs: initDoneAt - initAt,
        ownedAgainMs: ownedAgainAt - closeAt,
        ownedAgainAfterInitMs: ownedAgainAt - initAt,
        latencies: back()
          .map(([, at]) => at - closeAt)
          .sort((a, b) => a - b),
        back: back().filter(([, , , origin]) => origin === 'restart').length,
        backOtherwise: back().filter(([, , , origin]) => origin !== 'restart').length,
        moved: moved.length,
        released: fleet.reduce((sum, worker) => sum + worker.released.filter(([, at]) => at >= closeAt).length, 0),
      });
    }
    errors.push(...fleet.flatMap((worker) => worker.errors));
    return { ...params, restarts, errors };
  } finally {
    await pool.release(fleet);
    await cleanup(bench.redis, service);
  }
}

