import { ConfigError } from './errors.js';
import type { RedisCommander } from './redis.js';

/** Which channel carries `expired` events, given the `notify-keyspace-events` flags. */
export type EventChannel = 'keyspace' | 'keyevent';

/** The flags with K (keyspace channel) and x (expired events) added where missing; every flag already set stays.
 * `A` stands for all event classes, so it covers x. */
export function withExpiredEvents(flags: string): string {
  let merged = flags;
  if (!/[KE]/.test(merged)) merged += 'K';
  if (!/[xA]/.test(merged)) merged += 'x';
  return merged;
}

export function channelFor(flags: string): EventChannel | undefined {
  if (!/[xA]/.test(flags)) return undefined;
  if (flags.includes('K')) return 'keyspace';
  return flags.includes('E') ? 'keyevent' : undefined;
}

export const keyspaceAdvice =
  'set `notify-keyspace-events` to include K (or E) and x, e.g. "Kx": with CONFIG SET, in redis.conf, or in your ' +
  "provider's parameter group (ElastiCache, Azure Cache, Memorystore)";

/**
 * Makes sure Redis publishes `expired` events and returns the channel they come on. Adds the flags when they are
 * missing and `configure` allows; fails with a ConfigError naming the setting otherwise. Returns undefined when
 * CONFIG is refused (managed Redis): the caller must then check by expiring a key and listening.
 */
export async function ensureExpiredEvents(redis: RedisCommander, configure: boolean): Promise<EventChannel | undefined> {
  let flags: string;
  try {
    const reply = (await redis.sendCommand(['CONFIG', 'GET', 'notify-keyspace-events'])) as string[];
    flags = reply[1] ?? '';
  } catch {
    return undefined;
  }
  const channel = channelFor(flags);
  if (channel) return channel;
  if (!configure) {
    throw new ConfigError(
      `Keyspace notifications are off ("${flags}") and \`configureKeyspaceEvents\` is false: ${keyspaceAdvice}`,
      'notify-keyspace-events',
    );
  }
  const merged = withExpiredEvents(flags);
  try {
    await redis.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', merged]);
  } catch (error) {
    throw new ConfigError(
      `Keyspace notifications are off ("${flags}") and CONFIG SET was refused: ${keyspaceAdvice}`,
      'notify-keyspace-events',
      { cause: error },
    );
  }
  return channelFor(merged)!;
}

/** The flags with K (keyspace channel) and t (stream commands) added where missing, for waking readers on XADD. */
export function withStreamEvents(flags: string): string {
  let merged = flags;
  if (!merged.includes('K')) merged += 'K';
  if (!/[tA]/.test(merged)) merged += 't';
  return merged;
}

/** How the writes to data streams on a node are heard: announced per key, maybe (CONFIG refused: until one is
 * heard, it is not known), or not at all (the flags are off and may not be set). */
export type StreamEventsState = 'announced' | 'unknown' | 'off';

/**
 * Makes sure the node announces stream writes on each key's keyspace channel (flags K and t), adding the flags when
 * `configure` allows. Never fails: reading then falls back to polling.
 */
export async function ensureStreamEvents(redis: RedisCommander, configure: boolean): Promise<StreamEventsState> {
  let flags: string;
  try {
    const reply = (await redis.sendCommand(['CONFIG', 'GET', 'notify-keyspace-events'])) as string[];
    flags = reply[1] ?? '';
  } catch {
    return 'unknown';
  }
  const merged = withStreamEvents(flags);
  if (merged === flags) return 'announced';
  if (!configure) return 'off';
  try {
    await redis.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', merged]);
    return 'announced';
  } catch {
    return 'off';
  }
}
