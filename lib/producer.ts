import type { StreamInfo } from './events.js';
import { RESERVED_PREFIX, keysFor } from './keys.js';
import type { RedisCommander } from './redis.js';
import { commanderFor, type RedisClusterLike } from './cluster-client.js';
import { isSentinel, sentinelCommander, type RedisSentinelLike } from './sentinel-client.js';

/** The LBS entry format, the same as redis-stream-client-go's: field `lbs-input`, a JSON object. */
export function encodeEntry(stream: string, info: StreamInfo = {}): string {
  if (typeof stream !== 'string' || stream.length === 0) {
    throw new TypeError(`Expected \`stream\` to be a non-empty string, got ${JSON.stringify(stream)}`);
  }
  if (stream.startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`Expected \`stream\` outside the library's own key space "${RESERVED_PREFIX}", got ${JSON.stringify(stream)}`);
  }
  return JSON.stringify({ DataStreamName: stream, Info: info });
}

/**
 * Adds a stream to a service's load balancer stream: one consumer of the service will own it. `redis` is a node-redis
 * client, cluster client or Sentinel client. Returns the LBS entry id.
 */
export async function addStream(
  redis: RedisCommander | RedisClusterLike | RedisSentinelLike,
  serviceName: string,
  stream: string,
  info?: StreamInfo,
): Promise<string> {
  const entry = encodeEntry(stream, info);
  const { lbs } = keysFor(serviceName);
  const commander = isSentinel(redis) ? sentinelCommander(redis) : commanderFor(redis, lbs);
  return String(await commander.sendCommand(['XADD', lbs, '*', 'lbs-input', entry]));
}
