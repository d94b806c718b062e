import type { Connections } from '../connections.js';
import { ensureStreamEvents, type StreamEventsState } from '../keyspace-config.js';
import type { RedisConnection } from '../redis.js';
import { withTimeout } from '../timeout.js';
import { NODE_TIMEOUT_MS, type DataNodes } from './data-nodes.js';

/** How often every owned stream is read when writes are announced: a safety net for what pub/sub cannot promise
 * (a slot that moved to another node of a cluster). */
const SWEEP_MS = 10_000;
/** How often every owned stream is read when writes are not announced (see docs/architecture.md). */
export const POLL_MS = 250;

export interface WakeupEvents {
  /** An entry was added to `stream`. */
  onWrite(stream: string): void;
  /** Read every stream: a sweep, or announcements may have been missed (a reconnect). */
  onSweep(): void;
  onError(error: unknown): void;
  /** Writes on a node are not announced (the flags are off, or listening was refused), or it cannot be told
   * (CONFIG refused: until a write is heard): reading polls instead. */
  onPolling(node: string, why: 'off' | 'refused' | 'unknown'): void;
}

interface NodeListener {
  connection: Promise<RedisConnection>;
  state: StreamEventsState;
}

/**
 * Wakes the reading of an owned stream when it is written to: subscribes, on one connection per Redis node, to the
 * keyspace channel of each owned stream (`__keyspace@<db>__:<stream>`, flags K and t), so that a consumer hears
 * only about its own streams. Where the flags cannot be set, every stream is read every POLL_MS instead; where it is
 * not known (CONFIG refused), until a write is heard there.
 */
export class StreamWakeups {
  private readonly listeners = new Map<string, NodeListener>();
  /** On a cluster, which node each stream is listened for on (on a single Redis, the one node: nothing is kept). */
  private readonly watchedOn = new Map<string, string>();
  private readonly prefix: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly listener = (event: string, channel: string): void => {
    // Other stream events (XTRIM, after a commit with trim: true, among them) bring no entry to read.
    if (event === 'xadd') this.events.onWrite(channel.slice(this.prefix.length));
  };

  constructor(
    private readonly nodes: DataNodes,
    private readonly connections: Connections,
    database: number,
    private readonly configure: boolean,
    private readonly events: WakeupEvents,
  ) {
    this.prefix = `__keyspace@${database}__:`;
  }

  /** Starts listening for writes to `streams`; resolves once a write made from now on would be heard. */
  async watch(streams: readonly string[]): Promise<void> {
    for (const [name, keys] of this.byNode(streams)) {
      const listener = this.listenerOn(name, keys[0]!);
      if (!this.nodes.single) for (const key of keys) this.watchedOn.set(key, name);
      try {
        const connection = await listener.connection;
        if (this.stopped) return;
        // Bounded: node-redis holds a subscribe back while its connection reconnects (to a master that failed, for
        // ever), and a stream's opening waits for this.
        const subscribed = connection.subscribe(keys.map((key) => this.prefix + key), this.announced(listener));
        await withTimeout(subscribed, NODE_TIMEOUT_MS, `The node ${name} (subscribing)`);
      } catch (error) {
        // Refused (an ACL without the channels) or no connection: these streams are polled instead.
        this.events.onError(error);
        listener.state = 'off';
        this.events.onPolling(name, 'refused');
        this.schedule();
      }
    }
  }

  /** Stops listening for writes to `streams`. A node's connection stays (one per node at most) until stop. */
  unwatch(streams: readonly string[]): void {
    const byNode = new Map<string, string[]>();
    for (const stream of streams) {
      const name = this.nodes.single ? '' : this.watchedOn.get(stream);
      if (name === undefined) continue;
      this.watchedOn.delete(stream);
      const group = byNode.get(name);
      if (group) group.push(stream);
      else byNode.set(name, [stream]);
    }
    for (const [name, keys] of byNode) {
      const listener = this.listeners.get(name);
      if (!listener) continue;
      void listener.connection
        .then((connection) => connection.unsubscribe(keys.map((key) => this.prefix + key)))
        .catch((error: unknown) => {
          // A listener dropped meanwhile (its node no longer holds these streams) was closed: nothing to report.
          if (!this.stopped && this.listeners.get(name) === listener) this.events.onError(error);
        });
    }
  }

  /** Checks the flags again on every node (a restarted Redis forgot them), then asks for a sweep. */
  async resync(): Promise<void> {
    for (const [name, listener] of this.listeners) {
      // A key on the node, for the command to be routed there (any on a single Redis).
      const key = this.nodes.single ? '' : [...this.watchedOn].find(([, node]) => node === name)?.[0];
      if (key !== undefined) listener.state = await this.flagsOn(name, key);
    }
    this.schedule();
    this.events.onSweep();
  }

  /** On a cluster, a stream whose slot moved to another master (a failover, a migration) is listened for there.
   * Called when the slot map changes (DataNodes.onMoves). */
  async followMoves(): Promise<void> {
    const moved = [...this.watchedOn].filter(([stream, name]) => this.nodes.nodeOf(stream).name !== name).map(([stream]) => stream);
    if (moved.length === 0) return;
    this.unwatch(moved);
    await this.watch(moved);
    // A node none of the streams is on any more (a master that failed) keeps no connection retrying it.
    const inUse = new Set(this.watchedOn.values());
    for (const name of [...this.listeners.keys()]) {
      if (inUse.has(name)) continue;
      this.listeners.delete(name);
      await this.connections.close(`data-subscriber ${name}`);
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private listenerOn(name: string, key: string): NodeListener {
    let listener = this.listeners.get(name);
    if (listener) return listener;
    const { node } = this.nodes.nodeOf(key);
    const created: NodeListener = { state: 'unknown', connection: Promise.resolve(undefined as never) };
    created.connection = (async () => {
      created.state = await this.flagsOn(name, key);
      this.schedule();
      // Bounded: a stream's opening waits for this, and a master that failed never connects.
      const connection = await this.connections.open(`data-subscriber ${name}`, node, NODE_TIMEOUT_MS);
      let ready = false;
      // node-redis subscribes again by itself after a reconnect; writes made meanwhile were not announced.
      connection.on('ready', () => {
        if (ready) this.events.onSweep();
      });
      ready = true;
      return connection;
    })();
    listener = created;
    listener.connection.catch(() => this.listeners.delete(name));
    this.listeners.set(name, listener);
    return listener;
  }

  private async flagsOn(name: string, key: string): Promise<StreamEventsState> {
    const state = await ensureStreamEvents({ sendCommand: (args) => this.nodes.send(key, args) }, this.configure);
    if (state !== 'announced') this.events.onPolling(name, state);
    return state;
  }

  /** The listener of messages on one node: the first write heard shows that an 'unknown' node announces writes. */
  private announced(listener: NodeListener): (event: string, channel: string) => void {
    if (listener.state !== 'unknown') return this.listener;
    return (event, channel) => {
      if (listener.state === 'unknown') {
        listener.state = 'announced';
        this.schedule();
      }
      this.listener(event, channel);
    };
  }

  /** Sweeps at the pace the least able node needs. */
  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const polling = [...this.listeners.values()].some((listener) => listener.state !== 'announced');
    this.timer = setTimeout(() => {
      this.events.onSweep();
      this.schedule();
    }, polling ? POLL_MS : SWEEP_MS);
    this.timer.unref();
  }

  private byNode(streams: readonly string[]): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (const stream of streams) {
      const { name } = this.nodes.nodeOf(stream);
      const group = groups.get(name);
      if (group) group.push(stream);
      else groups.set(name, [stream]);
    }
    return groups;
  }
}
