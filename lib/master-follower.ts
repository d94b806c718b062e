import { closeConnection, type RedisCommander, type RedisConnection } from './redis.js';

/**
 * Finds and follows the master that holds a service's keys where it can change: the master of the service's hash
 * slot on a cluster (SlotMaster), the master a Redis Sentinel set-up names (SentinelMaster). It holds a connection
 * of the library's own to the current master, looks for another on a timer and on demand, and hands the client a
 * new connection when the master changed.
 */
export interface MasterFollower {
  /** Connects to the current master; resolves with the connection (closed by stop(), or when it moves). */
  start(): Promise<RedisConnection>;
  /** The current master's address (`host:port`), once started. */
  readonly address: string | undefined;
  /** Looks for another master now: an error may mean the master changed. */
  checkSoon(): void;
  /** Runs `work` on every other master there is (settings that are per node); nothing where there is only one. */
  onOtherMasters(work: (node: RedisCommander) => Promise<unknown>): Promise<void>;
  /** Stops following and closes the connection. */
  stop(): Promise<void>;
}

/** What a follower tells the client. */
export interface FollowerEvents {
  /** The master changed: `node` is a new connection to the new one. A rejection has the move tried again later. */
  onMoved(node: RedisConnection): Promise<void>;
  onError(error: unknown): void;
}

/** The connection a follower holds to the master it follows, and the move to a new master. */
export class MasterConnection {
  private current: { address: string; client: RedisConnection } | undefined;

  get address(): string | undefined {
    return this.current?.address;
  }

  get client(): RedisConnection | undefined {
    return this.current?.client;
  }

  /** The first master found. */
  hold(address: string, client: RedisConnection): RedisConnection {
    this.current = { address, client };
    return client;
  }

  /**
   * Makes `client` (connected to the new master) the current connection and has the client follow; when not every
   * part could, keeps the previous one and closes `client`, so that the next check tries the whole move again.
   */
  async moveTo(address: string, client: RedisConnection, onMoved: (node: RedisConnection) => Promise<void>): Promise<void> {
    const previous = this.current;
    this.current = { address, client };
    try {
      await onMoved(client);
    } catch (error) {
      this.current = previous;
      await closeConnection(client);
      throw error;
    }
    await closeConnection(previous?.client);
  }

  async close(): Promise<void> {
    await closeConnection(this.current?.client);
  }
}
