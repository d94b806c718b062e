/**
 * A producer at a steady offered rate: XADD to the streams in turn, in small pipelined batches every few
 * milliseconds, as many as the rate calls for by then. A batch is awaited before the next one, so a Redis (or a
 * machine) that cannot take the rate shows as a lower rate achieved, never as an unbounded queue in this process.
 */
import type { NodeRedis } from '../baselines/common.js';
import { wallNow, type ProduceResult } from './protocol.js';

const TICK_MS = 5;
/** The most XADDs in one batch (a late tick does not send a burst larger than this). */
const MAX_BATCH = 2000;

export async function producePaced(redis: NodeRedis, streams: readonly string[], rate: number, durationMs: number): Promise<ProduceResult> {
  const started = performance.now();
  const startedAt = wallNow();
  let endedAt = startedAt;
  let sent = 0;
  let next = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    if (elapsed >= durationMs) break;
    const due = Math.min(MAX_BATCH, Math.floor((elapsed / 1000) * rate) - sent);
    if (due > 0) {
      const batch: Array<Promise<unknown>> = [];
      for (let i = 0; i < due; i++) {
        batch.push(redis.sendCommand(['XADD', streams[next]!, '*', 'n', String(sent + i)]));
        next = (next + 1) % streams.length;
      }
      sent += due;
      await Promise.all(batch);
      endedAt = wallNow();
    }
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  return { sent, startedAt, endedAt };
}
