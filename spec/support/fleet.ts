import { randomUUID } from 'node:crypto';
import { createClient, createInspectingClient } from './node-redis.js';
import { RedisStreamClient, type RedisStreamClientOptions, type StreamLease, type ExpiredStream, type ReleasedStream } from '../../lib/index.js';
import type { RedisStreamClientError } from '../../lib/errors.js';

export type NodeRedis = ReturnType<typeof createClient>;

/** Everything one consumer reported, in order. */
export interface EventLog {
  added: StreamLease[];
  expired: ExpiredStream[];
  disowned: StreamLease[];
  released: ReleasedStream[];
  errors: RedisStreamClientError[];
}

/** A unique service name per test, so tests never see each other's keys. */
export function serviceName(): string {
  return `svc-${randomUUID().slice(0, 8)}`;
}

export interface ConnectOptions {
  /** CLIENT SETNAME for the connection, which node-redis passes on to its duplicates (so to every connection of a
   * consumer on it), to find them in CLIENT LIST. Off by default: an ACL user may not be allowed CLIENT SETNAME. */
  clientName?: string;
  /** For the spec's own look at Redis: RESP2 on every major (createInspectingClient), not a consumer's client. */
  inspecting?: boolean;
}

/** Creates connected node-redis clients and consumers, and closes all of them at the end of a test. */
export class Fleet {
  private readonly connections: NodeRedis[] = [];
  private readonly clients: RedisStreamClient[] = [];

  constructor(private readonly url: string) {}

  async connect({ clientName, inspecting = false }: ConnectOptions = {}): Promise<NodeRedis> {
    const create = inspecting ? createInspectingClient : createClient;
    const redis = create({ url: this.url, ...(clientName ? { name: clientName } : {}) });
    redis.on('error', () => undefined);
    await redis.connect();
    this.connections.push(redis);
    return redis;
  }

  /** A consumer that records its events; `init()` is called unless `start` is false. */
  async consumer(
    options: RedisStreamClientOptions,
    { start = true, clientName }: { start?: boolean } & ConnectOptions = {},
  ): Promise<{ client: RedisStreamClient; log: EventLog; redis: NodeRedis }> {
    const redis = await this.connect({ clientName });
    return { ...(await this.consumerOn(redis, options, { start })), redis };
  }

  /** A consumer on a client connected elsewhere (a cluster client, say), closed with the fleet. */
  async consumerOn(
    redis: ConstructorParameters<typeof RedisStreamClient>[0],
    options: RedisStreamClientOptions,
    { start = true }: { start?: boolean } = {},
  ): Promise<{ client: RedisStreamClient; log: EventLog }> {
    const client = new RedisStreamClient(redis, options);
    const log: EventLog = { added: [], expired: [], disowned: [], released: [], errors: [] };
    client.on('streamAdded', (lease) => log.added.push(lease));
    client.on('streamExpired', (expired) => log.expired.push(expired));
    client.on('streamDisowned', (lease) => log.disowned.push(lease));
    client.on('streamReleased', (released) => log.released.push(released));
    client.on('error', (error) => log.errors.push(error));
    this.clients.push(client);
    if (start) await client.init();
    return { client, log };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((client) => client.close()));
    await Promise.allSettled(this.connections.map((redis) => redis.disconnect()));
    this.clients.length = 0;
    this.connections.length = 0;
  }
}
