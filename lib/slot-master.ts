import { ASK_TIMEOUT_MS, connectionTo, onNode, type RedisClusterLike } from './cluster-client.js';
import { ClusterTopology } from './cluster-topology.js';
import type { MasterFollower } from './master-follower.js';
import { closeConnection, type RedisCommander, type RedisConnection } from './redis.js';
import { withTimeout } from './timeout.js';

/**
 * Finds and follows the master that owns one hash slot (a service's keys all live in one slot), holding a plain
 * connection to it. node-redis v4's cluster client only refreshes its slot map on a MOVED reply, and commands for
 * a dead master's slots wait forever, so the topology is checked here on a timer and on demand, and the
 * connection replaced when the slot's master changes.
 */
export class SlotMaster implements MasterFollower {
  private slot = -1;
  private current: { address: string; client: RedisConnection } | undefined;
  private readonly topology: ClusterTopology;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly cluster: RedisClusterLike,
    private readonly slotKey: string,
    private readonly checkEveryMs: number,
    private readonly onMoved: (client: RedisConnection) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.topology = new ClusterTopology(cluster);
  }

  get address(): string | undefined {
    return this.current?.address;
  }

  async start(): Promise<RedisConnection> {
    this.slot = Number(await this.cluster.sendCommand(this.slotKey, true, ['CLUSTER', 'KEYSLOT', this.slotKey]));
    const address = await this.findMaster();
    if (!address) throw new Error(`No node of the cluster says which master owns slot ${this.slot}`);
    this.current = { address, client: await this.connect(address) };
    this.schedule();
    return this.current.client;
  }

  /** Checks the topology now (after an error that may mean the slot moved). */
  checkSoon(): void {
    if (this.stopped || this.checking) return;
    this.checking = this.check()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.checking = undefined;
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await withTimeout(this.checking ?? Promise.resolve(), 1000).catch(() => undefined);
    await closeConnection(this.current?.client);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.checkSoon();
      this.schedule();
    }, this.checkEveryMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    const address = await this.findMaster();
    if (!address || address === this.current?.address || this.stopped) return;
    const client = await this.connect(address);
    const previous = this.current;
    this.current = { address, client };
    try {
      await this.onMoved(client);
    } catch (error) {
      // Not every part follows yet: the next check sees the move again and tries the whole of it once more.
      this.current = previous;
      await closeConnection(client);
      throw error;
    }
    await closeConnection(previous?.client);
  }

  /** Asks the current master first, then every other known node, which master owns the slot. */
  private async findMaster(): Promise<string | undefined> {
    const current = this.current && { address: this.current.address, node: this.current.client };
    if (!(await this.topology.refresh(current))) return undefined;
    return this.topology.masterOf(this.slot);
  }

  /**
   * Runs `work` on a short-lived connection to every master but the slot's own (whose connection the caller has),
   * reporting failures: for settings that are per node, such as the keyspace notification flags.
   */
  async onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void> {
    for (const address of this.topology.masters) {
      if (address === this.current?.address) continue;
      try {
        await onNode(this.cluster, address, (node) => withTimeout(work(node), ASK_TIMEOUT_MS));
      } catch (error) {
        this.onError(error);
      }
    }
  }

  private async connect(address: string): Promise<RedisConnection> {
    const client = connectionTo(this.cluster, address, true);
    client.on('error', (error: unknown) => this.onError(error));
    await withTimeout(client.connect(), 5 * ASK_TIMEOUT_MS);
    return client;
  }
}
