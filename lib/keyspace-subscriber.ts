import { setTimeout as sleep } from 'node:timers/promises';
import { nanoid } from 'nanoid';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import type { ServiceKeys } from './keys.js';
import { keyspaceAdvice, type EventChannel } from './keyspace-config.js';
import { HANDOFF_PREFIX } from './scripts/handoff.js';
import { withTimeout } from './timeout.js';
import type { RedisCommander, RedisConnection } from './redis.js';

/** Messages of heardAll() on this consumer's own channel. */
const MARKER_PREFIX = 'marker:';

/** How long the probe waits to hear its key expire. */
const PROBE_WAIT_MS = 1000;

export interface SubscriberEvents {
  /** A session key expired: `consumerId`'s session has ended. */
  onSessionExpired(consumerId: string): void;
  /** Another consumer handed streams over to this one: handoff.lua's `handoff:` message on this consumer's session
   * key's channel. */
  onHandoff(message: string): void;
  /** The connection came back after a loss: events sent meanwhile are gone. */
  onResubscribed(): void;
  onError(error: unknown): void;
}

/** Glob-escapes a key prefix for PSUBSCRIBE. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/**
 * Listens, on a connection given to it for this alone, for the expiry of this service's session keys, in the
 * database the client really uses, and for hand-offs to this consumer (a `handoff:` message on its own session key's
 * keyspace channel). node-redis resubscribes by itself after a reconnect; the owner reconciles on `onResubscribed`.
 * To change node or channel, the owner starts it again on a new connection.
 */
export class KeyspaceSubscriber {
  private connection: RedisConnection | undefined;
  private channels: readonly EventChannel[] = [];
  /** Probe keys whose expiry is awaited, by key name. */
  private readonly probes = new Map<string, () => void>();
  /** Markers published on this consumer's own channel, awaited by heard(). */
  private readonly markers = new Map<string, () => void>();
  private readonly message: z.ZodType<string>;

  constructor(
    private readonly keys: ServiceKeys,
    /** This consumer's own session key: hand-offs to it are announced on its channel. */
    private readonly ownSessionKey: string,
    private readonly database: number,
    private readonly events: SubscriberEvents,
  ) {
    this.message = z.string().startsWith(keys.sessionPrefix);
  }

  /** Subscribes on the given channels (both when the flags could not be read), on `connection`. */
  async start(connection: RedisConnection, channels: readonly EventChannel[]): Promise<void> {
    this.connection = connection;
    this.channels = channels;
    let ready = false;
    connection.on('ready', () => {
      if (ready) this.events.onResubscribed();
    });
    const keyspacePrefix = `__keyspace@${this.database}__:`;
    if (channels.includes('keyspace')) {
      await connection.pSubscribe(`${keyspacePrefix}${globEscape(this.keys.sessionPrefix)}*`, (event, channel) => {
        const key = channel.slice(keyspacePrefix.length);
        if (event === 'expired') this.expired(key);
        else if (key === this.ownSessionKey) this.own(event);
      });
    } else {
      // The pattern above hears hand-offs too; without it, this consumer's own channel is listened to by name.
      await connection.subscribe(`${keyspacePrefix}${this.ownSessionKey}`, (event) => {
        this.own(event);
      });
    }
    if (channels.includes('keyevent')) {
      await connection.subscribe(`__keyevent@${this.database}__:expired`, (key) => this.expired(key));
    }
    ready = true;
  }

  /**
   * Checks that Redis publishes expiries (when CONFIG is refused) by expiring a key of our own and listening. The
   * probe key lies outside the session keys (`rsc:{service}:probe:…`), so that no consumer's session is touched.
   */
  async probe(redis: RedisCommander): Promise<void> {
    const key = `${this.keys.probePrefix}${nanoid()}`;
    const heard = new Promise<void>((resolve) => this.probes.set(key, resolve));
    try {
      // Heard on the key's own keyspace channel, or on the keyevent channel when only E is set.
      await this.connection?.subscribe(`__keyspace@${this.database}__:${key}`, (event) => {
        if (event === 'expired') this.probes.get(key)?.();
      });
      await redis.sendCommand(['SET', key, '1', 'PX', '1']);
      await sleep(2);
      await redis.sendCommand(['EXISTS', key]);
      // A timer that is cleared once heard, so that it keeps no process alive after the probe.
      const ok = await withTimeout(heard, PROBE_WAIT_MS).then(() => true, () => false);
      if (!ok) {
        throw new ConfigError(`Keyspace notifications are off and CONFIG is refused: ${keyspaceAdvice}`, 'notify-keyspace-events');
      }
    } finally {
      this.probes.delete(key);
    }
  }


  /** The channels it listens on (none before start). */
  get listening(): readonly EventChannel[] {
    return this.channels;
  }

  /** Whether it listens on exactly this channel. */
  listensOn(channel: EventChannel): boolean {
    return this.channels.length === 1 && this.channels[0] === channel;
  }

  /**
   * Resolves once this subscriber has heard everything published on this consumer's own channel before the call: a
   * marker published there now arrives after all of it (drain(): a hand-off made just before it drained is taken
   * first). Gives up after PROBE_WAIT_MS.
   */
  async heardAll(redis: RedisCommander): Promise<void> {
    const marker = `${MARKER_PREFIX}${nanoid()}`;
    const heard = new Promise<void>((resolve) => this.markers.set(marker, resolve));
    try {
      await redis.sendCommand(['PUBLISH', `__keyspace@${this.database}__:${this.ownSessionKey}`, marker]);
      await withTimeout(heard, PROBE_WAIT_MS).catch(() => undefined);
    } finally {
      this.markers.delete(marker);
    }
  }

  /** A message on this consumer's own channel: a hand-off, or a marker of heardAll(). */
  private own(message: string): void {
    if (message.startsWith(HANDOFF_PREFIX)) this.events.onHandoff(message);
    else this.markers.get(message)?.();
  }

  private expired(key: string): void {
    this.probes.get(key)?.();
    const parsed = this.message.safeParse(key);
    if (parsed.success) this.events.onSessionExpired(parsed.data.slice(this.keys.sessionPrefix.length));
  }
}
