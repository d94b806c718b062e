import { CheckLoop } from './check-loop.js';
import { MasterConnection, type FollowerEvents, type MasterFollower } from './master-follower.js';
import { closeConnection, type RedisConnection } from './redis.js';
import { addressOf, isMasterRole, masterOf, type RedisSentinelLike } from './sentinel-client.js';
import { withTimeout } from './timeout.js';

/** How long the current master may take to answer ROLE before the Sentinel client is asked where the master is. */
const ROLE_TIMEOUT_MS = 500;
/** How long finding the master through the Sentinel client may take: during a failover it waits until it has
 * found the new master, which the next check asks again. */
const FIND_TIMEOUT_MS = 5000;
/** How long connecting to the master may take. */
const CONNECT_TIMEOUT_MS = 2500;

/**
 * Follows the master of a Redis Sentinel set-up through node-redis's Sentinel client, holding a connection of the
 * library's own to it. The Sentinel client learns of a failover from the sentinels (it asks them again after their
 * announcements and after its commands fail); this looks at its view on a timer, on demand and when it announces a
 * new master, and confirms with ROLE that the node is a master before moving: an old master that comes back is a
 * replica.
 */
export class SentinelMaster implements MasterFollower {
  private readonly master = new MasterConnection();
  private readonly checks: CheckLoop;
  /** The Sentinel client announced a new master: find it even before its connection there is ready. */
  private announced = false;
  private readonly topologyChanged = (event: { type: string }): void => {
    if (event.type !== 'MASTER_CHANGE') return;
    this.announced = true;
    this.checkSoon();
  };

  constructor(
    private readonly sentinel: RedisSentinelLike,
    checkEveryMs: number,
    private readonly events: FollowerEvents,
  ) {
    this.checks = new CheckLoop(checkEveryMs, () => this.check(), events.onError);
  }

  get address(): string | undefined {
    return this.master.address;
  }

  async start(): Promise<RedisConnection> {
    this.sentinel.on('topology-change', this.topologyChanged);
    const found = await withTimeout(masterOf(this.sentinel), FIND_TIMEOUT_MS, 'The Sentinel client');
    const client = this.master.hold(found.address, await this.connect(found.address, found.connect()));
    this.checks.start();
    return client;
  }

  checkSoon(): void {
    this.checks.soon();
  }

  /** One master: nothing else to set up. */
  async onOtherMasters(): Promise<void> {}

  async stop(): Promise<void> {
    this.sentinel.off('topology-change', this.topologyChanged);
    await this.checks.stop();
    await this.master.close();
  }

  private async check(): Promise<void> {
    const announced = this.announced;
    this.announced = false;
    const seen = this.sentinel.getMasterNode();
    // No connection of the Sentinel client's to a master is ready, and none was announced: the master is down and
    // the sentinels have not failed it over yet. Asking now would have the client query them in a loop.
    if (!seen && !announced) return;
    const current = this.master.client;
    if (seen && current && addressOf(seen) === this.master.address && (await this.answersAsMaster(current))) return;
    const found = await withTimeout(masterOf(this.sentinel), FIND_TIMEOUT_MS, 'The Sentinel client');
    // The same master: the connection here missed a beat, and reconnects by itself.
    if (found.address === this.master.address || this.checks.stopped) return;
    const client = await this.connect(found.address, found.connect());
    if (this.checks.stopped) {
      await closeConnection(client);
      return;
    }
    await this.master.moveTo(found.address, client, (node) => this.events.onMoved(node));
  }

  private async answersAsMaster(client: RedisConnection): Promise<boolean> {
    try {
      return isMasterRole(await withTimeout(client.sendCommand(['ROLE']), ROLE_TIMEOUT_MS));
    } catch {
      return false;
    }
  }

  /** Connects, and confirms with ROLE that the node is still a master (it may have been demoted meanwhile). */
  private async connect(address: string, client: RedisConnection): Promise<RedisConnection> {
    client.on('error', (error: unknown) => this.events.onError(error));
    try {
      await withTimeout(client.connect(), CONNECT_TIMEOUT_MS, `The master ${address}`);
      if (!(await this.answersAsMaster(client))) throw new Error(`The node ${address} the Sentinel client names as master is not one (ROLE)`);
      return client;
    } catch (error) {
      await closeConnection(client);
      throw error;
    }
  }
}
