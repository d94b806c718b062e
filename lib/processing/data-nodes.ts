import calculateSlot from 'cluster-key-slot';
import type { Duplicable, RedisCommander } from '../redis.js';
import { clusterNode, type RedisClusterLike } from '../slot-master.js';

/**
 * Where the data streams live. On a single Redis every stream is on one node, and one multi-key command may name
 * any of them; on a cluster each stream lives in its own slot, on that slot's master, and a multi-key command may
 * only name keys of one slot.
 */
export interface DataNodes {
  /** Runs a command about `key` on the node that holds it. */
  send(key: string, args: string[]): Promise<unknown>;
  /** Splits keys into groups that one multi-key command may name together. */
  group(keys: readonly string[]): string[][];
  /** The node that holds `key` ('' on a single Redis), and something to open a connection to it with. */
  nodeOf(key: string): { readonly name: string; readonly node: Duplicable };
}

/** A single Redis: reads go through the processing's own connection. */
export function singleNode(commands: RedisCommander, node: Duplicable): DataNodes {
  const only = { name: '', node };
  return {
    send: (_key, args) => commands.sendCommand(args),
    group: (keys) => [[...keys]],
    nodeOf: () => only,
  };
}

/** A cluster: commands go through the cluster client, which routes them by key and follows redirections. */
export function clusterNodes(cluster: RedisClusterLike): DataNodes {
  return {
    send: (key, args) => cluster.sendCommand(key, false, args),
    group: (keys) => {
      const bySlot = new Map<number, string[]>();
      for (const key of keys) {
        const slot = calculateSlot(key);
        const group = bySlot.get(slot);
        if (group) group.push(key);
        else bySlot.set(slot, [key]);
      }
      return [...bySlot.values()];
    },
    nodeOf: (key) => {
      const { host, port } = cluster.getSlotMaster(calculateSlot(key));
      const name = `${host}:${port}`;
      return { name, node: clusterNode(cluster, name) };
    },
  };
}
