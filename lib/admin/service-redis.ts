import type { ServiceKeys } from '../keys.js';
import type { RedisCommander } from '../redis.js';

/**
 * What the operator's tools (the `rsc` command line) work on: one service's keys, and commands routed to the node
 * that holds a given key (on a single server or Sentinel's master, every key; on a cluster, the key's slot). The
 * service's own keys share one slot; a data stream may live in another.
 */
export interface ServiceRedis {
  readonly service: string;
  readonly keys: ServiceKeys;
  /** Commands for the node that holds `key`. */
  at(key: string): RedisCommander;
}
