import { ConfigError, RedisStreamClientError } from './errors.js';
import type { Duplicable, RedisClientLike, RedisCommander, RedisConnection } from './redis.js';
import { isCluster, type RedisClusterLike } from './cluster-client.js';
import { SlotMaster } from './slot-master.js';
import { withTimeout } from './timeout.js';

/** How long connecting may take before init() gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The link to the node that holds a service's keys: a connection of the library's own to the node of the client
 * the user gave (never the user's connection itself, whose protocol, timeouts and type mapping are the user's), or,
 * on a cluster, one to the master of the service's slot that follows the slot when it moves. Commands go through
 * `commander`, so the parts never hold a node themselves.
 */
export class NodeLink {
  private current: RedisClientLike | undefined;
  private slotMaster: SlotMaster | undefined;
  readonly commander: RedisCommander = { sendCommand: (args) => this.node.sendCommand(args) };

  constructor(
    private readonly redis: RedisClientLike | RedisClusterLike,
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

  async connect(): Promise<RedisClientLike> {
    // Refused rather than connected here: the user's client is theirs to open, and addStream() needs it open too.
    if (!this.redis.isOpen) throw new ConfigError('The Redis client is not connected: call its connect() before init()', 'redis');
    if (!isCluster(this.redis)) {
      const node = await withTimeout(this.open(this.redis), CONNECT_TIMEOUT_MS, 'Redis');
      this.current = node;
      return node;
    }
    this.slotMaster = new SlotMaster(this.redis, this.routingKey, this.checkEveryMs, (node) => this.moved(node), this.onError);
    const node = await withTimeout(this.slotMaster.start(), CONNECT_TIMEOUT_MS, 'The cluster');
    this.current = node;
    return node;
  }

  /** On a cluster, runs `work` on every other master too (settings that are per node). */
  async onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void> {
    await this.slotMaster?.onOtherMasters(work);
  }

  /** On a cluster, an error may mean the slot moved: look now. */
  checkSoon(): void {
    this.slotMaster?.checkSoon();
  }

  async stop(): Promise<void> {
    await this.slotMaster?.stop();
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
  }
}
