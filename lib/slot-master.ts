import { ASK_TIMEOUT_MS, connectionTo, onNode, type RedisClusterLike } from './cluster-client.js';
import { ClusterTopology } from './cluster-topology.js';
import { CheckLoop } from './check-loop.js';
import { MasterConnection, type MasterFollower } from './master-follower.js';
import type { RedisCommander, RedisConnection } from './redis.js';
import { withTimeout } from './timeout.js';

/**
 * Finds and follows the master that owns one hash slot (a service's keys all live in one slot), holding a plain
 * connection to it. node-redis v4's cluster client only refreshes its slot map on a MOVED reply, and commands for
 * a dead master's slots wait forever, so the topology is checked here on a timer and on demand, and the
 * connection replaced when the slot's master changes.
 */
export class SlotMaster implements MasterFollower {
  private slot = -1;
  private readonly master = new MasterConnection();
  private readonly topology: ClusterTopology;
  private readonly checks: CheckLoop;

  constructor(
    private readonly cluster: RedisClusterLike,
    private readonly slotKey: string,
    checkEveryMs: number,
    private readonly onMoved: (client: RedisConnection) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.topology = new ClusterTopology(cluster);
    this.checks = new CheckLoop(checkEveryMs, () => this.check(), onError);
  }

  get address(): string | undefined {
    return this.master.address;
  }

  async start(): Promise<RedisConnection> {
    this.slot = Number(await this.cluster.sendCommand(this.slotKey, true, ['CLUSTER', 'KEYSLOT', this.slotKey]));
    const address = await this.findMaster();
    if (!address) throw new Error(`No node of the cluster says which master owns slot ${this.slot}`);
    const client = this.master.hold(address, await this.connect(address));
    this.checks.start();
    return client;
  }

  /** Checks the topology now (after an error that may mean the slot moved). */
  checkSoon(): void {
    this.checks.soon();
  }

  async stop(): Promise<void> {
    await this.checks.stop();
    await this.master.close();
  }

  private async check(): Promise<void> {
    const address = await this.findMaster();
    if (!address || address === this.master.address || this.checks.stopped) return;
    await this.master.moveTo(address, await this.connect(address), this.onMoved);
  }

  /** Asks the current master first, then every other known node, which master owns the slot. */
  private async findMaster(): Promise<string | undefined> {
    const { address, client } = this.master;
    const current = address !== undefined && client !== undefined ? { address, node: client } : undefined;
    if (!(await this.topology.refresh(current))) return undefined;
    return this.topology.masterOf(this.slot);
  }

  /**
   * Runs `work` on a short-lived connection to every master but the slot's own (whose connection the caller has),
   * reporting failures: for settings that are per node, such as the keyspace notification flags.
   */
  async onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void> {
    for (const address of this.topology.masters) {
      if (address === this.master.address) continue;
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
