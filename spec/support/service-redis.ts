/** A ServiceRedis (what the operator's tools work on) over the connections specs already have. */
import type { ServiceRedis } from '../../lib/admin/service-redis.js';
import { commanderFor, type RedisClusterLike } from '../../lib/cluster-client.js';
import { keysFor } from '../../lib/keys.js';
import type { RedisCommander } from '../../lib/redis.js';

/** On one server: every key is there. */
export function serviceRedisOn(redis: RedisCommander, service: string): ServiceRedis {
  return { service, keys: keysFor(service), at: () => redis };
}

/** On a cluster: each command goes to the node of its key's slot. */
export function serviceRedisOnCluster(cluster: RedisClusterLike, service: string): ServiceRedis {
  return { service, keys: keysFor(service), at: (key) => commanderFor(cluster, key) };
}
