import type { StreamInfo } from './events.js';
import { RESERVED_PREFIX, keysFor } from './keys.js';
import type { RedisCommander } from './redis.js';
import { commanderFor, type RedisClusterLike } from './cluster-client.js';

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
 * Adds a stream to a service's load balancer stream: one consumer of the service will own it.
 * Returns the LBS entry id.
 */
export async function addStream(
  redis: RedisCommander | RedisClusterLike,
  serviceName: string,
  stream: string,
  info?: StreamInfo,
): Promise<string> {
  const entry = encodeEntry(stream, info);
  const { lbs } = keysFor(serviceName);
  return String(await commanderFor(redis, lbs).sendCommand(['XADD', lbs, '*', 'lbs-input', entry]));
}
