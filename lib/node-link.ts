import { RedisStreamClientError } from './errors.js';
import type { RedisClientLike, RedisCommander, RedisConnection } from './redis.js';
import { isCluster, type RedisClusterLike } from './cluster-client.js';
import { SlotMaster } from './slot-master.js';
import { withTimeout } from './timeout.js';

/** How long connecting may take before init() gives up. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The link to the node that holds a service's keys: the client the user gave, or, on a cluster, a connection to
 * the master of the service's slot that follows the slot when it moves. Commands go through `commander`, so the
 * parts never hold a node themselves.
 */
export class NodeLink {
  private current: RedisClientLike | undefined;
  private slotMaster: SlotMaster | undefined;
  readonly commander: RedisCommander = { sendCommand: (args) => this.node.sendCommand(args) };

  constructor(
    private readonly redis: RedisClientLike | RedisClusterLike,
    private readonly routingKey: string,
    private readonly checkEveryMs: number,
    private readonly onMoved: (node: RedisConnection) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  get node(): RedisClientLike {
    if (!this.current) throw new RedisStreamClientError('The client is not connected: call init() first');
    return this.current;
  }

  async connect(): Promise<RedisClientLike> {
    if (!isCluster(this.redis)) {
      this.current = this.redis;
      return this.redis;
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
