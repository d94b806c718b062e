import { ConfigError } from './errors.js';

/** The Redis key names of one service. Every key carries the hash tag `{serviceName}`, so that in Redis Cluster
 * all of a service's keys, and so every script's keys, live in one slot. */
export interface ServiceKeys {
  /** The load balancer stream: producers add stream names here (field `lbs-input`). */
  readonly lbs: string;
  /** Consumer group of the LBS; its pending entries list records which consumer owns which stream. */
  readonly group: string;
  /** LBS entries that could not be handed out: field `reason`, field `lbs-id`, then the entry's own fields (the first
   * 32 pairs, each name and value cut to maxEntryBytes bytes); field `truncated`, after `lbs-id` and only when a
   * value was cut, is a JSON object from each cut field's name to its original size in bytes. */
  readonly deadLetter: string;
  /** Prefix of session keys: `sessionPrefix + consumerId` holds the nonce of the consumer's live incarnation. */
  readonly sessionPrefix: string;
  /** Prefix of the short-lived keys that check keyspace notifications arrive when CONFIG is refused. */
  readonly probePrefix: string;
  /** Sorted set: consumer id -> deadline of its session (server time, ms). */
  readonly consumers: string;
  /** Hash: stream name -> id of the LBS entry through which it is owned. */
  readonly owners: string;
  /** Hash: consumer id -> number of streams it owns (for even shares). */
  readonly loads: string;
  /** Hash: consumer id -> server time (ms) it last asked for new streams. */
  readonly readers: string;
  /** Counter of fencing tokens. */
  readonly token: string;
  /** Set of consumers that handed their streams over with close(): taking those over is not a failure. */
  readonly released: string;
  /** Hash: consumer id -> server time (ms) its live incarnation registered. */
  readonly started: string;
  /** Hash: consumer id -> deadline (server ms) of its last session, recorded by the sweep that found it ended.
   * With `started`, it tells an owner that failed alone from a pause that ended every session at once. */
  readonly ended: string;
  /** Hash: stream name -> id of its last processed entry, committed by its owner (`run()`, `lease.entries()`). */
  readonly positions: string;
  /** Hash: stream name -> fencing token of the last owner that opened or wrote its position: a write with a lower
   * token is refused. */
  readonly positionTokens: string;
  /** Data stream entries whose handler failed `maxAttempts` times: fields `stream`, `id`, `attempts`, `error` and
   * `fields` (the entry's fields as a JSON object). */
  readonly entryDeadLetter: string;
  /** The protocol version of the consumers that last registered (see PROTOCOL_VERSION): a consumer refuses to start
   * when it finds a later one it does not understand. */
  readonly protocol: string;
  /** Hash: consumer id -> JSON `{ "weight": number, "max"?: number, "auto": boolean, "draining": boolean }`, what the
   * fleet needs to know of each consumer to compute fair shares and hand streams over. */
  readonly members: string;
  /** Counter, raised on every change of membership (a join, a leave, a death, a drain, a resume): a stream moves by
   * rebalancing at most once per value. */
  readonly membership: string;
  /** Hash: LBS entry id -> id of the consumer that offered it to a manual-mode receiver, until the receiver claims it. */
  readonly offers: string;
}

/** Version of the protocol between consumers (the keys and what the scripts do with them). 2: fair shares by
 * weight, hand-off messages, draining. A consumer refuses to start in a service whose recorded version is
 * higher. */
export const PROTOCOL_VERSION = 2;

/** Stream names starting with this are the library's own keys: a producer-named stream there is refused. */
export const RESERVED_PREFIX = 'rsc:';

/** Braces would change which part of a key Redis Cluster hashes. */
export function isValidServiceName(serviceName: string): boolean {
  return serviceName.length > 0 && !/[{}]/.test(serviceName);
}

/** The keys used for a service. */
export function keysFor(serviceName: string): ServiceKeys {
  if (!isValidServiceName(serviceName)) {
    throw new ConfigError(`Expected \`serviceName\` to be a non-empty string without "{" or "}", got ${JSON.stringify(serviceName)}`, 'serviceName');
  }
  const base = `rsc:{${serviceName}}:`;
  return {
    lbs: `${base}lbs`,
    group: 'redis-stream-client',
    deadLetter: `${base}dead-letter`,
    sessionPrefix: `${base}session:`,
    probePrefix: `${base}probe:`,
    consumers: `${base}consumers`,
    owners: `${base}owners`,
    loads: `${base}loads`,
    readers: `${base}readers`,
    token: `${base}token`,
    released: `${base}released`,
    started: `${base}started`,
    ended: `${base}ended`,
    positions: `${base}positions`,
    positionTokens: `${base}position-tokens`,
    entryDeadLetter: `${base}entry-dead-letter`,
    protocol: `${base}protocol`,
    members: `${base}members`,
    membership: `${base}membership`,
    offers: `${base}offers`,
  };
}

export function sessionKey(keys: ServiceKeys, consumerId: string): string {
  return keys.sessionPrefix + consumerId;
}
