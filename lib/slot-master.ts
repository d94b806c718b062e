import { z } from 'zod';
import { closeConnection, type Duplicable, type RedisClientLike, type RedisCommander, type RedisConnection } from './redis.js';
import { withTimeout } from './timeout.js';

/** The slice of a node-redis v4 cluster client (`createCluster()`) this library uses. */
export interface RedisClusterLike {
  readonly masters: ReadonlyArray<ClusterNode>;
  readonly replicas: ReadonlyArray<ClusterNode>;
  nodeClient(node: never): unknown;
  getSlotMaster(slot: number): ClusterNode;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
}

interface ClusterNode {
  readonly host: string;
  readonly port: number;
  readonly client?: unknown;
}

/** A node client of the cluster client: a plain client whose options carry the cluster's credentials and TLS. */
type NodeClient = RedisConnection & {
  readonly options?: { socket?: Record<string, unknown> };
  duplicate(overrides?: Record<string, unknown>): RedisConnection;
};

export function isCluster(redis: RedisClientLike | RedisClusterLike): redis is RedisClusterLike {
  return 'masters' in redis && 'nodeClient' in redis;
}

/** Commands for one service's keys, on a plain client or routed by a cluster client to the service's slot. */
export function commanderFor(redis: RedisCommander | RedisClusterLike, routingKey: string): RedisCommander {
  if ('masters' in redis) return { sendCommand: (args) => redis.sendCommand(routingKey, false, args) };
  return redis;
}

const slotsReply = z.array(z.tuple([z.number(), z.number(), z.tuple([z.string(), z.number()]).rest(z.unknown())]).rest(z.unknown()));

/** How long a node may take to answer a topology question before another node is asked. */
const ASK_TIMEOUT_MS = 500;

/**
 * Finds and follows the master that owns one hash slot (a service's keys all live in one slot), holding a plain
 * connection to it. node-redis v4's cluster client only refreshes its slot map on a MOVED reply, and commands for
 * a dead master's slots wait forever, so the topology is checked here on a timer and on demand, and the
 * connection replaced when the slot's master changes.
 */
export class SlotMaster {
  private slot = -1;
  private current: { address: string; client: RedisConnection } | undefined;
  private readonly known = new Set<string>();
  /** Masters of the cluster, from the last topology answer. */
  private masters = new Set<string>();
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
    for (const node of [...cluster.masters, ...cluster.replicas]) this.known.add(`${node.host}:${node.port}`);
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
    if (this.current) {
      const answer = await this.askSlots(this.current.client).catch(() => undefined);
      if (answer) return answer;
    }
    for (const address of this.known) {
      if (address === this.current?.address) continue;
      const connection = this.template().duplicate(clientOptions(this.template(), address, false));
      connection.on('error', () => undefined);
      try {
        await withTimeout(connection.connect(), ASK_TIMEOUT_MS);
        const answer = await this.askSlots(connection);
        if (answer) return answer;
      } catch {
        // Unreachable or slow: ask the next node.
      } finally {
        void closeConnection(connection);
      }
    }
    return undefined;
  }

  /**
   * Runs `work` on a short-lived connection to every master but the slot's own (whose connection the caller has),
   * reporting failures: for settings that are per node, such as the keyspace notification flags.
   */
  async onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void> {
    for (const address of this.masters) {
      if (address === this.current?.address) continue;
      const connection = this.template().duplicate(clientOptions(this.template(), address, false));
      connection.on('error', () => undefined);
      try {
        await withTimeout(connection.connect(), ASK_TIMEOUT_MS);
        await withTimeout(work(connection), ASK_TIMEOUT_MS);
      } catch (error) {
        this.onError(error);
      } finally {
        void closeConnection(connection);
      }
    }
  }

  private async askSlots(node: RedisCommander): Promise<string | undefined> {
    const ranges = slotsReply.parse(await withTimeout(node.sendCommand(['CLUSTER', 'SLOTS']), ASK_TIMEOUT_MS));
    let owner: string | undefined;
    const masters = new Set<string>();
    for (const [from, to, master, ...replicas] of ranges) {
      for (const [host, port] of [master, ...(replicas as Array<[string, number]>)]) this.known.add(`${host}:${port}`);
      masters.add(`${master[0]}:${master[1]}`);
      if (from <= this.slot && this.slot <= to) owner = `${master[0]}:${master[1]}`;
    }
    this.masters = masters;
    return owner;
  }

  private async connect(address: string): Promise<RedisConnection> {
    const client = this.template().duplicate(clientOptions(this.template(), address, true));
    client.on('error', (error: unknown) => this.onError(error));
    await withTimeout(client.connect(), 5 * ASK_TIMEOUT_MS);
    return client;
  }

  private template(): NodeClient {
    return templateOf(this.cluster);
  }
}

/** Any node client of the cluster client: its options carry the credentials and TLS settings to reuse. */
function templateOf(cluster: RedisClusterLike): NodeClient {
  const node = [...cluster.masters, ...cluster.replicas].find((candidate) => candidate.client !== undefined);
  if (!node) throw new Error('The cluster client has no node client: call connect() on it first');
  return node.client as NodeClient;
}

/** One node of the cluster, to open connections of the library's own to (`host:port`), reconnecting when lost. */
export function clusterNode(cluster: RedisClusterLike, address: string): Duplicable {
  return { duplicate: () => templateOf(cluster).duplicate(clientOptions(templateOf(cluster), address, true)) };
}

function clientOptions(template: NodeClient, address: string, reconnect: boolean): Record<string, unknown> {
  const separator = address.lastIndexOf(':');
  return {
    socket: {
      ...template.options?.socket,
      host: address.slice(0, separator),
      port: Number(address.slice(separator + 1)),
      connectTimeout: ASK_TIMEOUT_MS,
      reconnectStrategy: reconnect ? (retries: number) => Math.min(50 * 2 ** retries, 1000) : false,
    },
  };
}
