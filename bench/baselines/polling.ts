/**
 * Baseline: the usual do-it-yourself recovery with the consumer group alone.
 * - A consumer owns the LBS entries pending under it. It keeps them fresh every heartbeatMs / 2: it lists them
 *   (XPENDING for itself, pages of 1,000; an entry no longer listed was taken by someone else) and resets their
 *   idle time with XCLAIM <ids> JUSTID (min-idle 0, 1,000 ids per call, calls pipelined).
 * - Every heartbeatMs / 2 (first tick at a random phase) it runs XAUTOCLAIM with min-idle = heartbeatMs over the
 *   whole pending list (COUNT 1,000, following the cursor to the end): whatever a dead consumer held is taken
 *   over once it has been idle for a heartbeat.
 */
import {
  BlockingReader,
  Ticker,
  baselineKeys,
  createGroup,
  streamOf,
  type BaselineEvents,
  type BaselineKeys,
  type BaselineOptions,
  type NodeRedis,
} from './common.js';

const PAGE = 1000;

export class PollingConsumer {
  /** entry id -> stream. */
  private readonly owned = new Map<string, string>();
  private readonly keys: BaselineKeys;
  private reader: BlockingReader | undefined;
  private readerConnection: NodeRedis | undefined;
  private readonly refresher: Ticker;
  private readonly poller: Ticker;
  private stopped = false;

  constructor(
    private readonly redis: NodeRedis,
    private readonly options: BaselineOptions,
    private readonly events: BaselineEvents,
  ) {
    this.keys = baselineKeys(options.serviceName);
    const onError = (error: unknown): void => events.onError(error);
    this.refresher = new Ticker(options.heartbeatMs / 2, () => this.refresh(), onError);
    this.poller = new Ticker(options.heartbeatMs / 2, () => this.poll(), onError);
  }

  get size(): number {
    return this.owned.size;
  }

  /** Durations of the refresh passes since the last call (ms). */
  tickDurations(): number[] {
    this.poller.drain();
    return this.refresher.drain();
  }

  async init(): Promise<void> {
    await createGroup(this.redis, this.keys);
    this.readerConnection = this.redis.duplicate();
    this.readerConnection.on('error', (error: unknown) => this.events.onError(error));
    await this.readerConnection.connect();
    this.reader = new BlockingReader(
      this.readerConnection,
      this.keys,
      this.options.consumerId,
      async (entries) => this.admit(entries),
      (error) => this.events.onError(error),
    );
    const half = this.options.heartbeatMs / 2;
    this.refresher.start();
    this.poller.start(Math.random() * half);
    this.reader.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.refresher.stop(), this.poller.stop()]);
    await this.reader?.stop();
  }

  private admit(entries: Array<{ id: string; stream: string }>): void {
    for (const { id, stream } of entries) {
      if (this.owned.has(id)) continue;
      this.owned.set(id, stream);
      this.events.onAdded(stream, false);
    }
  }

  private async refresh(): Promise<void> {
    const { lbs, group } = this.keys;
    const me = this.options.consumerId;
    // Only what was owned before the listing started can be judged by it (the reader and the poller add meanwhile).
    const before = new Map(this.owned);
    const listed = new Set<string>();
    const claims: Array<Promise<unknown>> = [];
    let start = '-';
    for (;;) {
      const page = (await this.redis.sendCommand(['XPENDING', lbs, group, start, '+', String(PAGE), me])) as Array<[string, ...unknown[]]>;
      const ids = page.map((entry) => entry[0]);
      ids.forEach((id) => listed.add(id));
      if (ids.length > 0) claims.push(this.redis.sendCommand(['XCLAIM', lbs, group, me, '0', ...ids, 'JUSTID']));
      if (ids.length < PAGE || this.stopped) break;
      start = `(${ids[ids.length - 1]}`;
    }
    await Promise.all(claims);
    if (this.stopped) return;
    for (const [id, stream] of before) {
      if (!listed.has(id) && this.owned.get(id) === stream) {
        this.owned.delete(id);
        this.events.onDisowned(stream);
      }
    }
  }

  private async poll(): Promise<void> {
    const { lbs, group } = this.keys;
    const me = this.options.consumerId;
    let cursor = '0-0';
    do {
      const reply = (await this.redis.sendCommand([
        'XAUTOCLAIM', lbs, group, me, String(this.options.heartbeatMs), cursor, 'COUNT', String(PAGE),
      ])) as [string, Array<[string, unknown] | null>, ...unknown[]];
      cursor = reply[0];
      for (const entry of reply[1]) {
        if (!entry) continue;
        const [id, fields] = entry;
        const stream = streamOf(fields);
        if (!stream || this.owned.has(id)) continue;
        this.owned.set(id, stream);
        this.events.onAdded(stream, true);
      }
    } while (cursor !== '0-0' && !this.stopped);
  }
}
