import calculateSlot from 'cluster-key-slot';
import { clusterNode, type RedisClusterLike } from '../cluster-client.js';
import { ClusterTopology } from '../cluster-topology.js';
import type { Connections } from '../connections.js';
import type { Duplicable, RedisCommander, RedisConnection } from '../redis.js';
import { withTimeout } from '../timeout.js';

/**
 * Where the data streams live. On a single Redis every stream is on one node, and one multi-key command may name
 * any of them; on a cluster each stream lives in its own slot, on that slot's master, and a multi-key command may
 * only name keys of one slot.
 */
export interface DataNodes {
  /** True on a single Redis: every stream is on the one node, and stays there. */
  readonly single: boolean;
  /** Runs a command about `key` on the node that holds it. */
  send(key: string, args: string[]): Promise<unknown>;
  /** Splits keys into groups that one multi-key command may name together. */
  group(keys: readonly string[]): string[][];
  /** The node that holds `key` ('' on a single Redis), and something to open a connection to it with. */
  nodeOf(key: string): { readonly name: string; readonly node: Duplicable };
  /** Calls `listener` when streams may have moved to other nodes (a cluster's slots changed masters). */
  onMoves(listener: () => void): void;
  stop(): void;
}

/** A single Redis: reads go through the processing's own connection. */
export function singleNode(commands: RedisCommander, node: Duplicable): DataNodes {
  const only = { name: '', node };
  return {
    single: true,
    send: (_key, args) => commands.sendCommand(args),
    group: (keys) => [[...keys]],
    nodeOf: () => only,
    onMoves: () => undefined,
    stop: () => undefined,
  };
}

/** How often the cluster's slot map is asked again, besides after errors. */
const TOPOLOGY_CHECK_MS = 1000;
/** A node that takes longer to connect or to answer a read is gone (node-redis retries a lost node for ever, and
 * queues commands for it meanwhile). */
export const NODE_TIMEOUT_MS = 5000;

/** The master that holds every stream where it can change (a Redis Sentinel set-up): the client's link to it. */
export interface FollowedNode {
  /** The master's address (`host:port`). */
  readonly address: string | undefined;
  /** Something to open a connection to the master with. */
  readonly node: Duplicable;
  /** Calls `listener` once the client has followed the master to another node; returns how to stop. */
  onMove(listener: () => void): () => void;
  /** An error may mean the master changed: look now. */
  checkSoon(): void;
}

/**
 * One master holds every stream, as on a single Redis, but a failover may put another in its place (Redis
 * Sentinel): reads go through a connection of their own to the current master, opened again there when the client
 * has followed it, and each stream is listened for on the master by name (not `single`), so that it is listened
 * for again on the new one.
 */
export class FollowedMaster implements DataNodes {
  readonly single = false;
  private connection: Promise<RedisConnection> | undefined;
  private movesListener: () => void = () => undefined;
  private readonly unsubscribe: () => void;
  private stopped = false;

  constructor(
    private readonly master: FollowedNode,
    private readonly connections: Connections,
    private readonly onError: (error: unknown) => void,
  ) {
    this.unsubscribe = master.onMove(() => this.moved());
  }

  async start(): Promise<this> {
    try {
      await this.connect();
    } catch (error) {
      this.stop();
      throw error;
    }
    return this;
  }

  async send(_key: string, args: string[]): Promise<unknown> {
    try {
      // A connection to a master that died waits in node-redis's queue until the client has followed the new one.
      return await withTimeout(this.connect().then((connection) => connection.sendCommand(args)), NODE_TIMEOUT_MS, `A command to the master (${this.master.address})`);
    } catch (error) {
      this.master.checkSoon();
      throw error;
    }
  }

  group(keys: readonly string[]): string[][] {
    return [[...keys]];
  }

  nodeOf(): { readonly name: string; readonly node: Duplicable } {
    return { name: this.master.address ?? '', node: this.master.node };
  }

  onMoves(listener: () => void): void {
    this.movesListener = listener;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  private connect(): Promise<RedisConnection> {
    if (!this.connection) {
      const connection = this.connections.open('data', this.master.node, NODE_TIMEOUT_MS);
      connection.catch(() => {
        if (this.connection === connection) this.connection = undefined;
      });
      this.connection = connection;
    }
    return this.connection;
  }

  /** The client has followed the master: reads go there, and every stream is listened for there. */
  private moved(): void {
    if (this.stopped) return;
    this.connection = undefined;
    this.connect().catch((error: unknown) => this.onError(error));
    this.movesListener();
  }
}

/**
 * A cluster: each stream's commands go to its slot's master, on one connection of the library's own per master (the
 * slot map is the library's: see ClusterTopology). An error or a slow answer has the map asked again; a connection
 * to a node that is no longer a master is closed.
 */
export class ClusterNodes implements DataNodes {
  readonly single = false;
  private readonly topology: ClusterTopology;
  private readonly open = new Map<string, Promise<RedisConnection>>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopped = false;
  private movesListener: () => void = () => undefined;

  constructor(
    private readonly cluster: RedisClusterLike,
    private readonly connections: Connections,
    private readonly onError: (error: unknown) => void,
  ) {
    this.topology = new ClusterTopology(cluster);
  }

  async start(): Promise<this> {
    if (!(await this.topology.refresh())) throw new Error('No node of the cluster answered CLUSTER SLOTS');
    this.schedule();
    return this;
  }

  async send(key: string, args: string[]): Promise<unknown> {
    try {
      const address = this.masterOf(key);
      // Connecting counts too: a connection to a node that died is retried by node-redis for ever.
      const call = this.connectionTo(address).then((connection) => connection.sendCommand(args));
      return await withTimeout(call, NODE_TIMEOUT_MS, `A command to the master of "${key}" (${address})`);
    } catch (error) {
      this.refreshSoon();
      throw error;
    }
  }

  group(keys: readonly string[]): string[][] {
    const bySlot = new Map<number, string[]>();
    for (const key of keys) {
      const slot = calculateSlot(key);
      const group = bySlot.get(slot);
      if (group) group.push(key);
      else bySlot.set(slot, [key]);
    }
    return [...bySlot.values()];
  }

  nodeOf(key: string): { readonly name: string; readonly node: Duplicable } {
    const name = this.masterOf(key);
    return { name, node: clusterNode(this.cluster, name) };
  }

  onMoves(listener: () => void): void {
    this.movesListener = listener;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private masterOf(key: string): string {
    const master = this.topology.masterOf(calculateSlot(key));
    if (!master) throw new Error(`No master serves the slot of "${key}"`);
    return master;
  }

  private connectionTo(address: string): Promise<RedisConnection> {
    let connection = this.open.get(address);
    if (!connection) {
      connection = this.connections.open(`data ${address}`, clusterNode(this.cluster, address), NODE_TIMEOUT_MS);
      connection.catch(() => this.open.delete(address));
      this.open.set(address, connection);
    }
    return connection;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refreshSoon();
      this.schedule();
    }, TOPOLOGY_CHECK_MS);
    this.timer.unref();
  }

  private refreshSoon(): void {
    if (this.refreshing || this.stopped) return;
    this.refreshing = this.refresh()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.refreshing = undefined;
      });
  }

  private async refresh(): Promise<void> {
    const version = this.topology.version;
    if (!(await this.topology.refresh())) return;
    if (this.topology.version !== version) this.movesListener();
    for (const address of [...this.open.keys()]) {
      if (this.topology.masters.has(address)) continue;
      this.open.delete(address);
      await this.connections.close(`data ${address}`);
    }
  }
}
