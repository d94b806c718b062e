/**
 * Baseline: the protocol of redis-stream-client-go (docs: /work/shared/DESIGN-NOTES.md section 7), done well.
 * - one lock key per stream, `<stream>:<lbs id>`, value = consumer id, TTL = heartbeatMs;
 * - every heartbeatMs / 2 each lock is extended with the compare-and-extend script of redsync (GET, PEXPIRE),
 *   one call per lock, all of a tick's calls pipelined (the Go library runs one goroutine per stream instead);
 * - takeover only on the lock key's `expired` keyspace event (PSUBSCRIBE on the lock key pattern): every consumer
 *   that hears it runs XCLAIM with MIN-IDLE = heartbeatMs (one winner), and the winner then SET NX the lock.
 */
import { createHash } from 'node:crypto';
import {
  BlockingReader,
  Ticker,
  baselineKeys,
  createGroup,
  type BaselineEvents,
  type BaselineKeys,
  type BaselineOptions,
  type NodeRedis,
} from './common.js';

/** redsync's extend script. */
export const EXTEND_SCRIPT =
  'if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end';
export const EXTEND_SHA = createHash('sha1').update(EXTEND_SCRIPT).digest('hex');

/** Lock calls in flight at once per tick (all are pipelined; this only bounds memory). */
const PIPELINE_CHUNK = 10_000;

export function lockKey(stream: string, lbsId: string): string {
  return `${stream}:${lbsId}`;
}

/** The PSUBSCRIBE pattern for a run's lock keys: streams of a bench service are named `<service>-s<n>`. */
export function lockPattern(database: number, serviceName: string): string {
  return `__keyspace@${database}__:${serviceName}-*:*`;
}

export class PerStreamLocksConsumer {
  /** lock key -> stream. */
  private readonly owned = new Map<string, string>();
  private readonly keys: BaselineKeys;
  private reader: BlockingReader | undefined;
  private readerConnection: NodeRedis | undefined;
  private subscriber: NodeRedis | undefined;
  private readonly ticker: Ticker;
  private stopped = false;

  constructor(
    private readonly redis: NodeRedis,
    private readonly options: BaselineOptions,
    private readonly events: BaselineEvents,
  ) {
    this.keys = baselineKeys(options.serviceName);
    this.ticker = new Ticker(options.heartbeatMs / 2, () => this.extendAll(), (error) => events.onError(error));
  }

  get size(): number {
    return this.owned.size;
  }

  /** Durations of the extension passes since the last call (ms). */
  tickDurations(): number[] {
    return this.ticker.drain();
  }

  async init(database: number): Promise<void> {
    await this.redis.sendCommand(['SCRIPT', 'LOAD', EXTEND_SCRIPT]);
    await createGroup(this.redis, this.keys);
    this.subscriber = this.redis.duplicate();
    this.subscriber.on('error', (error: unknown) => this.events.onError(error));
    await this.subscriber.connect();
    await this.subscriber.pSubscribe(lockPattern(database, this.options.serviceName), (message, channel) => {
      if (message === 'expired') void this.expired(channel.slice(channel.indexOf(':') + 1));
    });
    this.readerConnection = this.redis.duplicate();
    this.readerConnection.on('error', (error: unknown) => this.events.onError(error));
    await this.readerConnection.connect();
    this.reader = new BlockingReader(this.readerConnection, this.keys, this.options.consumerId, (entries) => this.acquire(entries), (error) =>
      this.events.onError(error),
    );
    this.ticker.start();
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.ticker.stop();
    await this.reader?.stop();
    await this.subscriber?.disconnect().catch(() => undefined);
  }

  private async acquire(entries: Array<{ id: string; stream: string }>): Promise<void> {
    const { consumerId, heartbeatMs } = this.options;
    const replies = await Promise.all(
      entries.map(({ id, stream }) => this.redis.sendCommand(['SET', lockKey(stream, id), consumerId, 'NX', 'PX', String(heartbeatMs)])),
    );
    entries.forEach(({ id, stream }, i) => {
      if (replies[i] === 'OK') {
        this.owned.set(lockKey(stream, id), stream);
        this.events.onAdded(stream, false);
      }
    });
  }

  private async extendAll(): Promise<void> {
    const { consumerId, heartbeatMs } = this.options;
    const locks = [...this.owned.keys()];
    for (let i = 0; i < locks.length && !this.stopped; i += PIPELINE_CHUNK) {
      const chunk = locks.slice(i, i + PIPELINE_CHUNK);
      const replies = await Promise.all(
        chunk.map((key) => this.redis.sendCommand(['EVALSHA', EXTEND_SHA, '1', key, consumerId, String(heartbeatMs)])),
      );
      chunk.forEach((key, j) => {
        if (replies[j] === 0) this.lost(key);
      });
    }
  }

  private lost(key: string): void {
    const stream = this.owned.get(key);
    if (stream === undefined) return;
    this.owned.delete(key);
    this.events.onDisowned(stream);
  }

  /** A lock key expired: its owner stopped extending it. Claim the entry (one winner), then take the lock. */
  private async expired(key: string): Promise<void> {
    if (this.stopped) return;
    if (this.owned.has(key)) {
      this.lost(key);
      return;
    }
    const separator = key.lastIndexOf(':');
    if (separator <= 0) return;
    const stream = key.slice(0, separator);
    const lbsId = key.slice(separator + 1);
    const { consumerId, heartbeatMs } = this.options;
    try {
      const claimed = (await this.redis.sendCommand([
        'XCLAIM', this.keys.lbs, this.keys.group, consumerId, String(heartbeatMs), lbsId,
      ])) as unknown[];
      if (!Array.isArray(claimed) || claimed.length === 0) return;
      const locked = await this.redis.sendCommand(['SET', key, consumerId, 'NX', 'PX', String(heartbeatMs)]);
      if (locked !== 'OK' || this.stopped) return;
      this.owned.set(key, stream);
      this.events.onAdded(stream, true);
    } catch (error) {
      this.events.onError(error);
    }
  }
}
