import { ConfigError, RedisStreamClientError } from './errors.js';
import type { FollowerEvents, MasterFollower } from './master-follower.js';
import type { Duplicable, RedisClientLike, RedisCommander, RedisConnection } from './redis.js';
import { isCluster, type RedisClusterLike } from './cluster-client.js';
import { isSentinel, type RedisSentinelLike } from './sentinel-client.js';
import { SentinelMaster } from './sentinel-master.js';
import { SlotMaster } from './slot-master.js';
import { withTimeout } from './timeout.js';

/** How long connecting may take before init() gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A client the library takes: a node-redis client, cluster client or Sentinel client. */
export type NodeRedisClient = RedisClientLike | RedisClusterLike | RedisSentinelLike;

/**
 * The link to the node that holds a service's keys: a connection of the library's own to the node of the client
 * the user gave (never the user's connection itself, whose protocol, timeouts and type mapping are the user's), or,
 * where that node can change, one to its current master that a follower moves when another master takes over (the
 * master of the service's slot on a cluster, the master a Sentinel set-up names). Commands go through `commander`,
 * so the parts never hold a node themselves.
 */
export class NodeLink {
  private current: RedisClientLike | undefined;
  private follower: MasterFollower | undefined;
  private readonly moveListeners = new Set<() => void>();
  readonly commander: RedisCommander = { sendCommand: (args) => this.node.sendCommand(args) };

  constructor(
    private readonly redis: NodeRedisClient,
    private readonly routingKey: string,
    private readonly checkEveryMs: number,
    /** Opens the commands connection to a plain client's node (its owner closes it at shutdown). */
    private readonly open: (node: Duplicable) => Promise<RedisConnection>,
    private readonly onMoved: (node: RedisConnection) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  get node(): RedisClientLike {
    if (!this.current) throw new RedisStreamClientError('The client is not connected: call init() first');
    return this.current;
  }

  /** Whether the node can change, and is followed (a cluster slot's master, a Sentinel master). */
  get follows(): boolean {
    return this.follower !== undefined;
  }

  /** Where the node is (`host:port`) when it is followed; undefined on a plain client. */
  get address(): string | undefined {
    return this.follower?.address;
  }

  async connect(): Promise<RedisClientLike> {
    // Refused rather than connected here: the user's client is theirs to open, and addStream() needs it open too.
    if (!this.redis.isOpen) throw new ConfigError('The Redis client is not connected: call its connect() before init()', 'redis');
    this.follower = this.followerFor(this.redis, { onMoved: (node) => this.moved(node), onError: this.onError });
    if (!this.follower) {
      const node = await withTimeout(this.open(this.redis as RedisClientLike), CONNECT_TIMEOUT_MS, 'Redis');
      this.current = node;
      return node;
    }
    const node = await withTimeout(this.follower.start(), CONNECT_TIMEOUT_MS, isCluster(this.redis) ? 'The cluster' : 'The Sentinel set-up');
    this.current = node;
    return node;
  }

  /** Calls `listener` after each move of the node, once the client has followed it. Returns how to stop. */
  onMove(listener: () => void): () => void {
    this.moveListeners.add(listener);
    return () => this.moveListeners.delete(listener);
  }

  /** On a cluster, runs `work` on every other master too (settings that are per node). */
  async onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void> {
    await this.follower?.onOtherMasters(work);
  }

  /** Where the node can change, an error may mean it did: look now. */
  checkSoon(): void {
    this.follower?.checkSoon();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
  }

  private followerFor(redis: NodeRedisClient, events: FollowerEvents): MasterFollower | undefined {
    if (isSentinel(redis)) return new SentinelMaster(redis, this.checkEveryMs, events);
    if (isCluster(redis)) return new SlotMaster(redis, this.routingKey, this.checkEveryMs, events.onMoved, events.onError);
    return undefined;
  }

  private async moved(node: RedisConnection): Promise<void> {
    const previous = this.current;
    this.current = node;
    try {
      await this.onMoved(node);
    } catch (error) {
      this.current = previous;
      throw error;
    }
    for (const listener of this.moveListeners) listener();
  }
}
