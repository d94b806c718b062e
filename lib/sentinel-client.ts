import type { RedisCommander, RedisConnection } from './redis.js';
import { DEDICATED_CONNECTION } from './redis.js';

/** A node as node-redis's Sentinel client names it. */
export interface SentinelNode {
  readonly host: string;
  readonly port: number;
}

/**
 * The slice of a node-redis Sentinel client (`createSentinel()`, node-redis 5 or 6) this library uses. It has no
 * `duplicate()` of a node (v6's duplicates the whole Sentinel client) and no public node options, so connections of
 * the library's own are built from its connection to the master, which `_execute` lends.
 */
export interface RedisSentinelLike {
  readonly isOpen: boolean;
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  /** Its own view of the master: the node its master connection is ready on; undefined while it has none (the
   * master is down, or it is connecting to a new one). */
  getMasterNode(): SentinelNode | undefined;
  getSentinelNode(): SentinelNode | undefined;
  /** `topology-change` events: `MASTER_CHANGE` once it has learnt of a new master from the sentinels. */
  on(event: 'topology-change', listener: (event: { type: string }) => void): unknown;
  off(event: 'topology-change', listener: (event: { type: string }) => void): unknown;
  /** Runs `fn` with its connection to the master (a node-redis client of the nodes' options), after it has found
   * the master again where the master is gone; when `fn` fails with a READONLY error (or the connection is lost) it
   * asks the sentinels for the master again and runs `fn` once more, up to its `maxCommandRediscovers` times. */
  _execute<T>(isReadonly: boolean | undefined, fn: (client: unknown) => Promise<T>): Promise<T>;
}

/** node-redis's own connection to the master: a plain client whose options carry `nodeClientOptions` (credentials,
 * TLS) and the master's address. Lent for the length of a call: never closed or kept here. */
type MasterClient = RedisConnection & {
  readonly options?: { socket?: Record<string, unknown> & { host?: unknown; port?: unknown } };
  duplicate(overrides?: Record<string, unknown>): RedisConnection;
};

export function isSentinel(redis: unknown): redis is RedisSentinelLike {
  const candidate = redis as Record<string, unknown> | null | undefined;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    ['sendCommand', 'getMasterNode', 'getSentinelNode', '_execute'].every((name) => typeof candidate[name] === 'function')
  );
}

/** Commands through the Sentinel client, to the master (addStream). */
export function sentinelCommander(sentinel: RedisSentinelLike): RedisCommander {
  return { sendCommand: (args) => sentinel.sendCommand(false, args) };
}

export function addressOf(node: SentinelNode): string {
  return `${node.host}:${node.port}`;
}

/** Whether a ROLE reply is a master's: an old master that comes back is made a replica of the new one. */
export function isMasterRole(reply: unknown): boolean {
  return Array.isArray(reply) && reply[0] === 'master';
}

/** Thrown from `_execute` when the node it lends is not a master: node-redis treats a READONLY error as a sign
 * that the topology changed before the sentinels told it, asks them again, and retries. */
const NOT_A_MASTER = 'READONLY the node the Sentinel client names as master says it is a replica (ROLE)';

/**
 * Where the master is, as the Sentinel client knows it, confirmed by ROLE on the client's own connection to it, and
 * a new (not yet connected) connection of the library's own there with the nodes' options: RESP2, no command
 * timeout, reconnecting while the node is away.
 */
export async function masterOf(sentinel: RedisSentinelLike): Promise<{ address: string; connect(): RedisConnection }> {
  return sentinel._execute(false, async (lent) => {
    const client = lent as MasterClient;
    if (!isMasterRole(await client.sendCommand(['ROLE']))) throw new Error(NOT_A_MASTER);
    const socket = client.options?.socket ?? {};
    return {
      address: `${String(socket.host)}:${String(socket.port)}`,
      connect: () =>
        client.duplicate({
          ...DEDICATED_CONNECTION,
          socket: { ...socket, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
        }),
    };
  });
}
