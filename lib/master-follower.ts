import type { RedisCommander, RedisConnection } from './redis.js';

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
