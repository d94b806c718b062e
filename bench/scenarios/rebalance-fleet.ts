/** What the parts of the rebalancing scenario share: consumers reporting every change, owning streams evenly. */
import { lbsKey, produce, streamNames } from '../lib/harness.js';
import { wallNow, type StartConfig } from '../lib/protocol.js';
import { waitUntil } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import type { Context } from './context.js';
import { lastChange } from './rebalance-timeline.js';

/** A consumer of `service` (ours, autoClaim, rebalancing on) that reports every stream added and released. */
export function consumerConfig(context: Context, service: string, heartbeatMs: number): Omit<StartConfig, 'session'> {
  return { impl: 'ours', url: context.bench.url, serviceName: service, heartbeatMs, autoClaim: true, report: 'each' };
}

/** Adds `streams` streams to the service and waits until `workers` own them evenly (each within the tolerance of
 * its share) and none of them reported a change for `quietMs`. */
export async function loadEvenly(
  context: Context,
  workers: readonly Worker[],
  service: string,
  { streams, tolerance, quietMs }: { streams: number; tolerance: number; quietMs: number },
): Promise<void> {
  await produce(context.bench.redis, lbsKey('ours', service), streamNames(service, streams));
  const share = streams / workers.length;
  const settled = (): boolean =>
    workers.every((worker) => Math.abs(worker.owned - share) <= Math.max(1, tolerance * share)) &&
    workers.reduce((sum, worker) => sum + worker.owned, 0) === streams &&
    wallNow() - lastChange(workers) >= quietMs;
  await waitUntil(settled, 60_000, `${workers.length} consumers to own ${streams} streams evenly`);
}
