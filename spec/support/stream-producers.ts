/**
 * Producers that append to data streams continuously, each over a connection of its own, until stopped: every
 * `tickMs` a batch of XADDs (pipelined) to streams drawn at random, so that some streams get several entries in a
 * row and others none for a while, as real traffic does.
 */
import { createClient } from './node-redis.js';
import { Random } from './chaos-random.js';
import type { NodeRedis } from './fleet.js';
import { sleep } from './wait.js';

export interface ProducerOptions {
  /** The streams to append to, shared out among the producers. */
  streams: readonly string[];
  producers: number;
  /** Entries per second, all producers together. */
  perSecond: number;
  /** Seeds each producer's choice of streams. */
  random: Random;
  tickMs?: number;
}

export class StreamProducers {
  /** Entries appended (acknowledged by Redis). */
  appended = 0;
  private stopping = false;
  private readonly loops: Array<Promise<void>>;

  private constructor(
    private readonly connections: NodeRedis[],
    { streams, perSecond, random, tickMs = 50 }: ProducerOptions,
  ) {
    const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000 / connections.length));
    this.loops = connections.map((redis, i) => {
      const mine = streams.filter((_, j) => j % connections.length === i);
      return this.produce(redis, mine, new Random(random.int(0, 2 ** 32 - 1)), perTick, tickMs);
    });
  }

  /** Connects the producers to `url` and starts them. */
  static async start(url: string, options: ProducerOptions): Promise<StreamProducers> {
    const connections = await Promise.all(
      Array.from({ length: options.producers }, async () => {
        const redis = createClient({ url });
        redis.on('error', () => undefined);
        await redis.connect();
        return redis;
      }),
    );
    return new StreamProducers(connections, options);
  }

  /** Stops appending; resolves once the last batch is acknowledged and the connections are closed. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    await Promise.all(this.connections.map((redis) => redis.disconnect().catch(() => undefined)));
  }

  private async produce(redis: NodeRedis, streams: readonly string[], random: Random, perTick: number, tickMs: number): Promise<void> {
    const sequence = new Map<string, number>();
    while (!this.stopping) {
      const batch = Array.from({ length: perTick }, () => random.pick(streams)!);
      await Promise.all(
        batch.map((stream) => {
          const n = (sequence.get(stream) ?? 0) + 1;
          sequence.set(stream, n);
          return redis.xAdd(stream, '*', { n: String(n) }).then(() => void this.appended++);
        }),
      );
      // Pacing, not waiting for a state: the producers write at about `perSecond`.
      await sleep(tickMs);
    }
  }
}
