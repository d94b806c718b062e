import { ConfigError } from './errors.js';

/**
 * The slice of a node-redis client (v4, v5 or v6) this library uses. Every part takes only this; the differences
 * between the majors are settled where connections are opened (DEDICATED_CONNECTION), and a cluster client has
 * its adapter in cluster-client.ts.
 */
export interface RedisCommander {
  // No AbortSignal: node-redis v4 keeps a signal's listener after the command is sent, and an abort then corrupts
  // its send queue. A call that may hang (offline queue) is bounded by the caller's own clock instead.
  sendCommand(args: string[]): Promise<unknown>;
}

/** A connection the library creates with `duplicate()` and closes itself. */
export interface RedisConnection extends RedisClientLike {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  disconnect(): Promise<void>;
  on(event: 'error' | 'ready' | 'end', listener: (...args: unknown[]) => void): unknown;
  pSubscribe(pattern: string, listener: (message: string, channel: string) => void): Promise<void>;
  subscribe(channels: string | string[], listener: (message: string, channel: string) => void): Promise<void>;
  unsubscribe(channels: string | string[]): Promise<void>;
}

/** A connected node-redis client (`createClient()` then `connect()`), v4, v5 or v6. */
export interface RedisClientLike extends RedisCommander {
  /** Connected, or reconnecting: false before connect() and after close. */
  readonly isOpen: boolean;
  duplicate(overrides?: Record<string, unknown>): RedisConnection;
}

/** What opening a connection needs: a client to duplicate. */
export type Duplicable = Pick<RedisClientLike, 'duplicate'>;

/**
 * The options every connection of the library's own sets over those of the client it duplicates, so that it
 * behaves alike on every node-redis major: RESP2 replies (the parts read RESP2 shapes; v6 speaks RESP3 by
 * default), no command timeout (v6 gives every command 5 s by default to be sent, and a client with
 * `rejectInFlight` cuts short commands already sent too: a heartbeat through a slow moment would fail for nothing;
 * the library bounds its own waits, as on v4), raw replies (a type mapping rides in the command options replaced
 * here), and nothing that needs RESP3 (maintenance notifications, on by default in v6; client-side caching).
 * node-redis 4 has none of these options and ignores them.
 */
export const DEDICATED_CONNECTION = {
  RESP: 2,
  commandOptions: { timeout: undefined },
  maintNotifications: 'disabled',
  clientSideCache: undefined,
} as const;

/** Opens a connection of the library's own, reporting its errors instead of letting them crash the process
 * (node-redis throws an `error` event nobody listens to). `adopt` receives it before it connects, so that its
 * owner can close it even while connecting to a Redis that does not answer. */
export async function openConnection(
  redis: Duplicable,
  onError: (error: unknown) => void,
  adopt: (connection: RedisConnection) => void = () => undefined,
): Promise<RedisConnection> {
  const connection = redis.duplicate(DEDICATED_CONNECTION);
  connection.on('error', onError);
  adopt(connection);
  await connection.connect();
  return connection;
}

/** Closes a connection of the library's own at once, even with a blocking command in flight. */
export async function closeConnection(connection: RedisConnection | undefined): Promise<void> {
  if (!connection) return;
  try {
    await connection.disconnect();
  } catch {
    // Already closed: nothing to release.
  }
}

/** What the connection really is, from CLIENT INFO (so URL and options agree by definition): the database it uses
 * and the protocol it speaks (2 or 3). */
export async function connectionInfo(redis: RedisCommander): Promise<{ database: number; protocol: number }> {
  const info = String(await redis.sendCommand(['CLIENT', 'INFO']));
  const db = /\bdb=(\d+)/.exec(info)?.[1];
  const resp = /\bresp=(\d+)/.exec(info)?.[1];
  return { database: db === undefined ? 0 : Number(db), protocol: resp === undefined ? 2 : Number(resp) };
}

/**
 * Refuses anything but a node-redis client (`createClient()`), cluster client (`createCluster()`) or Sentinel client
 * (`createSentinel()`, node-redis 5 and 6) of a major the library knows, with a ConfigError naming the problem,
 * rather than a TypeError deep inside later: ioredis and node-redis 3 have a `sendCommand` of another signature, and
 * neither has node-redis's `isReady`, `masters` or `getMasterNode`.
 */
export function assertNodeRedis(redis: unknown): void {
  const candidate = redis as Record<string, unknown> | null | undefined;
  const isObject = typeof candidate === 'object' && candidate !== null;
  const hasFunctions = (...names: string[]) => names.every((name) => typeof candidate?.[name] === 'function');
  const client = isObject && 'isReady' in candidate && hasFunctions('sendCommand', 'duplicate');
  const cluster = isObject && 'masters' in candidate && hasFunctions('sendCommand', 'nodeClient');
  const sentinel = isObject && 'isReady' in candidate && hasFunctions('sendCommand', 'getMasterNode', 'getSentinelNode', '_execute');
  if (!client && !cluster && !sentinel) {
    throw new ConfigError(
      'Expected a node-redis client: createClient() or createCluster() of the `redis` package (v4, v5 or v6), or createSentinel() (v5 or v6); ioredis, node-redis 3 and other clients are not supported',
      'redis',
    );
  }
}

export function errorCode(error: unknown): string {
  return error instanceof Error ? error.message.split(' ', 1)[0] ?? '' : '';
}
