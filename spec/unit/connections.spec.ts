import { describe, expect, it } from 'vitest';
import { Connections } from '../../lib/connections.js';
import type { RedisClientLike, RedisConnection } from '../../lib/redis.js';

/** A connection whose connect() the spec settles, recording whether it was closed. */
class FakeConnection {
  closed = false;
  readonly errorListeners: Array<(error: unknown) => void> = [];
  private settle: (() => void) | undefined;
  readonly connecting = new Promise<void>((resolve) => (this.settle = resolve));

  connect(): Promise<void> {
    return this.connecting;
  }
  connected(): void {
    this.settle!();
  }
  async disconnect(): Promise<void> {
    if (this.closed) throw new Error('The client is closed');
    this.closed = true;
  }
  on(event: string, listener: (error: unknown) => void): void {
    if (event === 'error') this.errorListeners.push(listener);
  }
}

/** A node whose duplicates are FakeConnections, connected at once unless `held`. */
function fakeNode(held = false): { node: RedisClientLike; made: FakeConnection[] } {
  const made: FakeConnection[] = [];
  const node = {
    duplicate: () => {
      const connection = new FakeConnection();
      if (!held) connection.connected();
      made.push(connection);
      return connection as unknown as RedisConnection;
    },
  } as unknown as RedisClientLike;
  return { node, made };
}

describe('Connections', () => {
  it('opens one connection per role, reporting its errors', async () => {
    const errors: unknown[] = [];
    const connections = new Connections((error) => errors.push(error));
    const { node, made } = fakeNode();
    const session = await connections.open('session', node);
    const reader = await connections.open('reader', node);
    expect(made).toHaveLength(2);
    expect(session).not.toBe(reader);
    made[0]!.errorListeners.forEach((listener) => listener(new Error('socket')));
    expect(errors).toEqual([new Error('socket')]);
  });

  it('closes the connection a role had once its new one is ready (the service moved)', async () => {
    const connections = new Connections(() => undefined);
    const { node, made } = fakeNode();
    await connections.open('reader', node);
    await connections.open('reader', node);
    expect(made.map((connection) => connection.closed)).toEqual([true, false]);
  });

  it('closes one role on demand, leaving the others', async () => {
    const connections = new Connections(() => undefined);
    const { node, made } = fakeNode();
    await connections.open('session', node);
    await connections.open('reader', node);
    await connections.close('reader');
    expect(made.map((connection) => connection.closed)).toEqual([false, true]);
  });

  it('closes every connection at shutdown, one still connecting included, and refuses new ones until reopened', async () => {
    const connections = new Connections(() => undefined);
    const ready = fakeNode();
    await connections.open('session', ready.node);
    const stuck = fakeNode(true);
    const opening = connections.open('reader', stuck.node);
    await connections.closeAll();
    expect([...ready.made, ...stuck.made].map((connection) => connection.closed)).toEqual([true, true]);

    // The stuck one connects after all: it is not handed out.
    stuck.made[0]!.connected();
    await expect(opening).rejects.toThrow(/closed while it connected/);
    await expect(connections.open('session', ready.node)).rejects.toThrow(/connections are closed/);
    connections.reopen();
    await expect(connections.open('session', ready.node)).resolves.toBeDefined();
  });

  it('closes a connection of the role still connecting when the role is closed', async () => {
    const connections = new Connections(() => undefined);
    const stuck = fakeNode(true);
    const opening = connections.open('data-subscriber a:1', stuck.node);
    await connections.close('data-subscriber a:1');
    expect(stuck.made[0]!.closed).toBe(true);
    stuck.made[0]!.connected();
    await expect(opening).rejects.toThrow(/closed while it connected/);
  });

  it('gives up on a connection that does not connect within the timeout, and closes it (no retries behind the caller)', async () => {
    const connections = new Connections(() => undefined);
    const stuck = fakeNode(true);
    await expect(connections.open('data a:1', stuck.node, 20)).rejects.toThrow(/did not answer within 20 ms/);
    expect(stuck.made[0]!.closed).toBe(true);
    // A later attempt is a new connection.
    const ready = fakeNode();
    await expect(connections.open('data a:1', ready.node, 20)).resolves.toBe(ready.made[0]);
  });
});
