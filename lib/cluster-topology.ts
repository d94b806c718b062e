import { z } from 'zod';
import { ASK_TIMEOUT_MS, knownNodes, onNode, type RedisClusterLike } from './cluster-client.js';
import type { RedisCommander } from './redis.js';
import { withTimeout } from './timeout.js';

const slotsReply = z.array(z.tuple([z.number(), z.number(), z.tuple([z.string(), z.number()]).rest(z.unknown())]).rest(z.unknown()));

const SLOTS = 16_384;

/**
 * Which master serves each hash slot, as the cluster's nodes tell it (CLUSTER SLOTS). node-redis v4's cluster client
 * only refreshes its own map on a MOVED reply, and commands for a dead master's slots wait forever, so the library
 * keeps its own map, asked again on a timer and after errors.
 */
export class ClusterTopology {
  private readonly known: Set<string>;
  private owners: Array<string | undefined> = [];
  private masterSet = new Set<string>();
  /** Goes up each time an answer changes which master serves some slot. */
  private changes = 0;

  constructor(private readonly cluster: RedisClusterLike) {
    this.known = new Set(knownNodes(cluster));
  }

  /** The masters, as of the last answer. */
  get masters(): ReadonlySet<string> {
    return this.masterSet;
  }

  /** How many answers so far changed which master serves some slot. */
  get version(): number {
    return this.changes;
  }

  /** The master of `slot` as of the last answer. */
  masterOf(slot: number): string | undefined {
    return this.owners[slot];
  }

  /** Asks `first` (a connection already open to a node), then every other known node until one answers. Returns
   * whether one did. */
  async refresh(first?: { readonly address: string; readonly node: RedisCommander }): Promise<boolean> {
    if (first && (await this.ask(first.node).catch(() => false))) return true;
    for (const address of this.known) {
      if (address === first?.address) continue;
      // Unreachable or slow: ask the next node.
      if (await onNode(this.cluster, address, (node) => this.ask(node)).catch(() => false)) return true;
    }
    return false;
  }

  private async ask(node: RedisCommander): Promise<boolean> {
    const ranges = slotsReply.parse(await withTimeout(node.sendCommand(['CLUSTER', 'SLOTS']), ASK_TIMEOUT_MS));
    const owners: Array<string | undefined> = new Array(SLOTS);
    const masters = new Set<string>();
    for (const [from, to, master, ...replicas] of ranges) {
      for (const [host, port] of [master, ...(replicas as Array<[string, number]>)]) this.known.add(`${host}:${port}`);
      const address = `${master[0]}:${master[1]}`;
      masters.add(address);
      owners.fill(address, from, to + 1);
    }
    if (owners.some((owner, slot) => owner !== this.owners[slot])) this.changes += 1;
    this.owners = owners;
    this.masterSet = masters;
    return true;
  }
}
