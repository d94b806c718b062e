/**
 * Baseline: processing by hand, as users of the library did before `run()` existed (the shape of
 * examples/auto-claim.ts). RedisStreamClient owns the streams (autoClaim); for every owned stream, on
 * `streamAdded`:
 * - load the stream's checkpoint (HGET; a stream taken over goes on after its last owner's checkpoint);
 * - open a connection of its own (`redis.duplicate()`: a blocking read ties its connection up);
 * - loop on `XREAD COUNT 100 BLOCK 1000 STREAMS <stream> <last id>` until the lease ends;
 * - per entry: the handler, then a fenced checkpoint, one EVAL that stores the id in the stream's hash only if the
 *   lease's token is >= the token stored there (a stale owner cannot overwrite a newer owner's progress); a refusal
 *   ends the loop.
 * One connection per owned stream. A connection Redis refuses (maxclients) is tried three times and then given up,
 * its stream staying owned and unread, so that a run at the limit ends and reports it instead of retrying forever.
 */
import { RedisStreamClient, type StreamLease } from '../../lib/index.js';
import type { BaselineEvents, BaselineOptions, NodeRedis } from './common.js';

/** examples/auto-claim.ts's script: the checkpoint moves only under a token at least as new as the stored one. */
export const SAVE_CHECKPOINT = `
local fence = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
if tonumber(ARGV[1]) < fence then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'last', ARGV[2])
return 1`;

const READ_COUNT = 100;
const BLOCK_MS = 1000;
const CONNECT_RETRIES = 2;

/** The hash holding one stream's checkpoint (fields `token` and `last`). */
export function checkpointKey(serviceName: string, stream: string): string {
  return `bench:{${serviceName}}:checkpoint:${stream}`;
}

export interface XreadEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
  token: number;
  attempt: number;
}

export interface PerStreamXreadOptions extends BaselineOptions {
  /** The most reading connections; streams owned beyond it are not read (a cap set by the bench, not by users). */
  maxReaders?: number;
  /** The library's rebalance option (its default when absent). */
  rebalance?: boolean;
}

export class PerStreamXreadConsumer {
  private readonly client: RedisStreamClient;
  private readonly readers = new Set<NodeRedis>();
  private readonly loops = new Set<Promise<void>>();
  private opened = 0;
  private failed = 0;
  private stopping = false;

  constructor(
    private readonly redis: NodeRedis,
    private readonly options: PerStreamXreadOptions,
    private readonly events: BaselineEvents,
    private readonly handler: (entry: XreadEntry) => unknown,
  ) {
    this.client = new RedisStreamClient(redis, {
      serviceName: options.serviceName,
      heartbeatMs: options.heartbeatMs,
      consumerId: options.consumerId,
      autoClaim: true,
      ...(options.rebalance === undefined ? {} : { rebalance: options.rebalance }),
    });
    this.client.on('streamAdded', (lease) => {
      events.onAdded(lease.stream, lease.recovered);
      const loop = this.consume(lease).catch((error: unknown) => {
        if (!this.stopping) events.onError(error);
      });
      this.loops.add(loop);
      void loop.finally(() => this.loops.delete(loop));
    });
    this.client.on('streamDisowned', (lease) => events.onDisowned(lease.stream));
    this.client.on('error', (error) => events.onError(error));
  }

  /** Reading connections open now, and those Redis refused. */
  connections(): { open: number; failed: number } {
    return { open: this.readers.size, failed: this.failed };
  }

  async init(): Promise<void> {
    await this.client.init();
  }

  /** Hands the streams over and closes every reading connection (a blocked XREAD ends with it). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.client.close().catch(() => undefined);
    await Promise.all([...this.readers].map((reader) => reader.disconnect().catch(() => undefined)));
    await Promise.all(this.loops);
  }

  private async consume(lease: StreamLease): Promise<void> {
    const { stream, token } = lease;
    if (this.options.maxReaders !== undefined && this.opened >= this.options.maxReaders) return;
    this.opened++;
    const checkpoint = checkpointKey(this.options.serviceName, stream);
    let lastId = String((await this.redis.sendCommand(['HGET', checkpoint, 'last'])) ?? '0-0');
    const reader = this.redis.duplicate({ socket: { reconnectStrategy: (retries: number) => (retries < CONNECT_RETRIES ? 200 : false) } });
    reader.on('error', () => undefined);
    try {
      await reader.connect();
    } catch (error) {
      this.failed++;
      throw error;
    }
    this.readers.add(reader);
    try {
      while (!lease.signal.aborted && !this.stopping) {
        const reply = (await reader.sendCommand([
          'XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(BLOCK_MS), 'STREAMS', stream, lastId,
        ])) as Array<[string, Array<[string, string[]]>]> | null;
        for (const [id, flat] of reply?.[0]?.[1] ?? []) {
          const fields: Record<string, string> = {};
          for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
          await this.handler({ stream, id, fields, token, attempt: 1 });
          const saved = await this.redis.sendCommand(['EVAL', SAVE_CHECKPOINT, '1', checkpoint, String(token), id]);
          if (saved === 0) return; // a newer owner has saved: this lease is stale
          lastId = id;
        }
      }
    } catch (error) {
      if (!this.stopping && !lease.signal.aborted) throw error;
    } finally {
      this.readers.delete(reader);
      await reader.disconnect().catch(() => undefined);
    }
  }
}
