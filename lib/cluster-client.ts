import { closeConnection, DEDICATED_CONNECTION, type Duplicable, type RedisCommander, type RedisConnection } from './redis.js';
import { withTimeout } from './timeout.js';

/** The slice of a node-redis cluster client (`createCluster()`, v4, v5 or v6) this library uses. */
export interface RedisClusterLike {
  readonly isOpen: boolean;
  readonly masters: ReadonlyArray<ClusterNode>;
  readonly replicas: ReadonlyArray<ClusterNode>;
  nodeClient(node: never): unknown;
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

/** How long a node may take to connect or answer a topology question before another node is asked. */
export const ASK_TIMEOUT_MS = 500;

export function isCluster(redis: object): redis is RedisClusterLike {
  return 'masters' in redis && 'nodeClient' in redis;
}

/** Commands for one service's keys, on a plain client or routed by a cluster client to the service's slot. */
export function commanderFor(redis: RedisCommander | RedisClusterLike, routingKey: string): RedisCommander {
  if ('masters' in redis) return { sendCommand: (args) => redis.sendCommand(routingKey, false, args) };
  return redis;
}

/** The addresses (`host:port`) of the nodes the cluster client knows. */
export function knownNodes(cluster: RedisClusterLike): string[] {
  return [...cluster.masters, ...cluster.replicas].map((node) => `${node.host}:${node.port}`);
}

/** One node of the cluster, to open connections of the library's own to (`host:port`), reconnecting when lost. */
export function clusterNode(cluster: RedisClusterLike, address: string): Duplicable {
  return { duplicate: () => connectionTo(cluster, address, true) };
}

/** A new (not yet connected) connection to one node, with the cluster's credentials and TLS; `reconnect` or not. */
export function connectionTo(cluster: RedisClusterLike, address: string, reconnect: boolean): RedisConnection {
  const template = templateOf(cluster);
  const separator = address.lastIndexOf(':');
  return template.duplicate({
    ...DEDICATED_CONNECTION,
    socket: {
      ...template.options?.socket,
      host: address.slice(0, separator),
      port: Number(address.slice(separator + 1)),
      connectTimeout: ASK_TIMEOUT_MS,
      reconnectStrategy: reconnect ? (retries: number) => Math.min(50 * 2 ** retries, 1000) : false,
    },
  });
}

/** Runs `work` on a short-lived connection to one node; rejects when the node does not connect in time. */
export async function onNode<T>(cluster: RedisClusterLike, address: string, work: (node: RedisCommander) => Promise<T>): Promise<T> {
  const connection = connectionTo(cluster, address, false);
  connection.on('error', () => undefined);
  try {
    await withTimeout(connection.connect(), ASK_TIMEOUT_MS);
    return await work(connection);
  } finally {
    void closeConnection(connection);
  }
}

/** Any node client of the cluster client: its options carry the credentials and TLS settings to reuse. */
function templateOf(cluster: RedisClusterLike): NodeClient {
  const node = [...cluster.masters, ...cluster.replicas].find((candidate) => candidate.client !== undefined);
  if (!node) throw new Error('The cluster client has no node client: call connect() on it first');
  return node.client as NodeClient;
}
