import { closeConnection, openConnection, type Duplicable, type RedisConnection } from './redis.js';
import { withTimeout } from './timeout.js';

/** The dedicated connections of a client, one per part that needs its own: the parts' commands share one (where
 * the master can change, on a cluster or with Sentinel, the one its MasterFollower holds); the session's heartbeats
 * must never wait behind other traffic, the LBS reader's blocking read ties its connection up, and a subscribed
 * connection can do nothing else. Processing adds one connection for reading data streams and, per Redis node
 * holding them, one subscribed to their writes (on a cluster, both per master). */
export type ConnectionRole = 'commands' | 'session' | 'reader' | 'subscriber' | 'data' | `data ${string}` | `data-subscriber ${string}`;

/**
 * Owns the client's own connections: opens each (a `duplicate()` of the node that holds the service's keys, its
 * errors reported), replaces it when the part needs a new one (the service's slot moved, the subscriber changes
 * channel), and closes them all at shutdown, those still connecting included. The user's connection is never
 * closed here.
 */
export class Connections {
  private readonly held = new Map<ConnectionRole, RedisConnection>();
  /** Connections still connecting, with their role: closed by close(role) and closeAll() too, and again once
   * connected if that came after. */
  private readonly opening = new Map<RedisConnection, ConnectionRole>();
  private closed = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  /**
   * Opens a new connection for `role` on `node`; the one it replaces is closed once the new one is ready. With
   * `timeoutMs`, gives up (closing it) when it has not connected by then: node-redis retries a node that is gone
   * for ever (a cluster master that failed), and a part waiting for it would wait as long.
   */
  async open(role: ConnectionRole, node: Duplicable, timeoutMs?: number): Promise<RedisConnection> {
    if (this.closed) throw new Error(`The client's connections are closed: no ${role} connection is opened`);
    let adopted: RedisConnection | undefined;
    try {
      const connecting = openConnection(node, this.onError, (opening) => {
        adopted = opening;
        this.opening.set(opening, role);
      });
      const connection = await (timeoutMs === undefined ? connecting : withTimeout(connecting, timeoutMs, `The node for the ${role} connection`));
      if (!this.opening.has(connection) || this.closed) {
        await closeConnection(connection);
        throw new Error(`The ${role} connection was closed while it connected`);
      }
      const previous = this.held.get(role);
      this.held.set(role, connection);
      await closeConnection(previous);
      return connection;
    } catch (error) {
      // Given up (timeout) or failed: nothing may keep retrying behind the caller's back.
      if (adopted && this.opening.has(adopted)) await closeConnection(adopted);
      throw error;
    } finally {
      if (adopted) this.opening.delete(adopted);
    }
  }

  /** Closes the connection of `role` now (a blocking read on it ends at once), and any still connecting for it. */
  async close(role: ConnectionRole): Promise<void> {
    const connection = this.held.get(role);
    this.held.delete(role);
    const connecting = [...this.opening].filter(([, of]) => of === role).map(([opening]) => opening);
    for (const opening of connecting) this.opening.delete(opening);
    await Promise.all([connection, ...connecting].map((each) => closeConnection(each)));
  }

  /** Allows connections again after closeAll() (init() tried again after it failed). */
  reopen(): void {
    this.closed = false;
  }

  /** Closes every connection, those still connecting included; a connection that connects later is closed then. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.held.values(), ...this.opening.keys()];
    this.held.clear();
    this.opening.clear();
    await Promise.all(all.map((connection) => closeConnection(connection)));
  }
}
