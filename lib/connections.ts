import { closeConnection, openConnection, type Duplicable, type RedisConnection } from './redis.js';

/** The dedicated connections of a client, one per part that needs its own: the session's heartbeats must never
 * wait behind other traffic, the LBS reader's blocking read ties its connection up, and a subscribed connection can
 * do nothing else. Processing adds one connection for reading data streams and, per Redis node holding them, one
 * subscribed to their writes (on a cluster, both per master). */
export type ConnectionRole = 'session' | 'reader' | 'subscriber' | 'data' | `data ${string}` | `data-subscriber ${string}`;

/**
 * Owns the client's own connections: opens each (a `duplicate()` of the node that holds the service's keys, its
 * errors reported), replaces it when the part needs a new one (the service's slot moved, the subscriber changes
 * channel), and closes them all at shutdown, those still connecting included. The user's connection is never
 * closed here.
 */
export class Connections {
  private readonly held = new Map<ConnectionRole, RedisConnection>();
  /** Connections still connecting: closed by closeAll() too, and again once connected if that came after. */
  private readonly opening = new Set<RedisConnection>();
  private closed = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  /** Opens a new connection for `role` on `node`; the one it replaces is closed once the new one is ready. */
  async open(role: ConnectionRole, node: Duplicable): Promise<RedisConnection> {
    if (this.closed) throw new Error(`The client's connections are closed: no ${role} connection is opened`);
    let adopted: RedisConnection | undefined;
    try {
      const connection = await openConnection(node, this.onError, (opening) => {
        adopted = opening;
        this.opening.add(opening);
      });
      if (this.closed) {
        await closeConnection(connection);
        throw new Error(`The ${role} connection was closed while it connected`);
      }
      const previous = this.held.get(role);
      this.held.set(role, connection);
      await closeConnection(previous);
      return connection;
    } finally {
      if (adopted) this.opening.delete(adopted);
    }
  }

  /** Closes the connection of `role` now (a blocking read on it ends at once). */
  async close(role: ConnectionRole): Promise<void> {
    const connection = this.held.get(role);
    this.held.delete(role);
    await closeConnection(connection);
  }

  /** Allows connections again after closeAll() (init() tried again after it failed). */
  reopen(): void {
    this.closed = false;
  }

  /** Closes every connection, those still connecting included; a connection that connects later is closed then. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.held.values(), ...this.opening];
    this.held.clear();
    await Promise.all(all.map((connection) => closeConnection(connection)));
  }
}
