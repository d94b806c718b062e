import { randomUUID } from 'node:crypto';
import { createInspectingClient } from './node-redis.js';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import type { RedisStreamClientError } from '../../lib/errors.js';
import type { StreamInfo } from '../../lib/events.js';
import { keysFor, sessionKey, type ServiceKeys } from '../../lib/keys.js';
import { encodeEntry } from '../../lib/producer.js';
import { ScriptRunner, type ScriptScope } from '../../lib/scripts/runner.js';
import { serviceName, type NodeRedis } from './fleet.js';
import { startRedis, type StartRedisOptions } from './redis-server.js';

/** Long enough that no session set up by a spec ends on its own while the spec runs. */
export const SESSION_MS = 60_000;

type ScopeOptions = ScriptScope['options'];
const DEFAULT_OPTIONS: ScopeOptions = { heartbeatMs: SESSION_MS, maxEntryBytes: 65_536, maxDeliveries: 10, rebalanceTolerance: 0.1 };

/** An entry of the LBS consumer group's pending entries list. */
export interface Pending {
  readonly id: string;
  readonly consumer: string;
  readonly deliveries: number;
}

/** For the typed calls' `report`: the scripts' replies in these specs must always decode. */
export function failOnDecodeError(error: RedisStreamClientError): never {
  throw error;
}

/**
 * One service's keys on a private Redis, for calling the scripts' typed functions directly: puts the keys in the
 * state a script expects (sessions, LBS entries, deliveries) and reads back what a script left.
 */
export class ScriptBench {
  readonly service = serviceName();
  readonly keys: ServiceKeys = keysFor(this.service);
  readonly runner: ScriptRunner;
  private readonly extra: NodeRedis[] = [];

  private constructor(
    /** The server's URL, for another bench on the same server. */
    readonly url: string,
    readonly redis: NodeRedis,
  ) {
    this.runner = new ScriptRunner(redis);
  }

  /** A bench on a new service whose LBS and consumer group exist (as after init()), unless `group` is false. */
  static async open(url: string, { group = true }: { group?: boolean } = {}): Promise<ScriptBench> {
    const bench = new ScriptBench(url, await connect(url));
    if (group) await bench.command('XGROUP', 'CREATE', bench.keys.lbs, bench.keys.group, '0', 'MKSTREAM');
    return bench;
  }

  /** Another connection to the same server, closed with the bench. */
  async connect(): Promise<NodeRedis> {
    const redis = await connect(this.url);
    this.extra.push(redis);
    return redis;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.redis, ...this.extra].map((redis) => redis.disconnect()));
  }

  scope(consumerId: string, options: Partial<ScopeOptions> = {}): ScriptScope {
    return { keys: this.keys, consumerId, options: { ...DEFAULT_OPTIONS, ...options } };
  }

  sessionKey(consumerId: string): string {
    return sessionKey(this.keys, consumerId);
  }

  command(...args: Array<string | number>): Promise<unknown> {
    return this.redis.sendCommand(args.map(String));
  }

  /** The server clock (ms), the one the scripts read. */
  async now(): Promise<number> {
    const [seconds, micros] = (await this.command('TIME')) as [string, string];
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /**
   * What register.lua leaves for a live incarnation: the session key holding a new nonce (returned) with a TTL,
   * the deadline in `consumers`, and when it registered in `started` (now unless given).
   */
  async startSession(consumerId: string, { ttlMs = SESSION_MS, startedAt }: { ttlMs?: number; startedAt?: number } = {}): Promise<string> {
    const nonce = randomUUID();
    const now = await this.now();
    await this.command('SET', this.sessionKey(consumerId), nonce, 'PX', ttlMs);
    await this.command('ZADD', this.keys.consumers, now + ttlMs, consumerId);
    await this.command('HSET', this.keys.started, consumerId, startedAt ?? now);
    return nonce;
  }

  /**
   * A session that has ended at `at` (server ms, a moment ago unless given): its key is gone and `consumers` still
   * holds that deadline, as when the key expired and no sweep has looked at it yet.
   */
  async endSession(consumerId: string, { at }: { at?: number } = {}): Promise<void> {
    await this.command('ZADD', this.keys.consumers, at ?? (await this.now()) - 1, consumerId);
    await this.command('DEL', this.sessionKey(consumerId));
  }

  /** Adds a well formed LBS entry naming `stream`; returns its id. */
  add(stream: string, info: StreamInfo = {}): Promise<string> {
    return this.addFields('lbs-input', encodeEntry(stream, info));
  }

  /** Adds an LBS entry with the given field/value pairs, well formed or not; returns its id. */
  async addFields(...fields: string[]): Promise<string> {
    return String(await this.command('XADD', this.keys.lbs, '*', ...fields));
  }

  /** Delivers the next `count` undelivered LBS entries to `consumerId`, as its blocking read does (not admitted:
   * no owners record, not counted in loads). Returns their ids. */
  async deliver(consumerId: string, count = 1): Promise<string[]> {
    const reply = (await this.command('XREADGROUP', 'GROUP', this.keys.group, consumerId, 'COUNT', count, 'STREAMS', this.keys.lbs, '>')) as
      | Array<[string, Array<[string, string[]]>]>
      | null;
    return (reply?.[0]?.[1] ?? []).map(([id]) => id);
  }

  /** What a grant by take.lua leaves: one new LBS entry per stream, pending under `consumerId`, recorded in
   * `owners` and counted in `loads`. Returns the entry ids, in order. */
  async own(consumerId: string, ...streams: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const stream of streams) {
      await this.add(stream);
      const [id] = await this.deliver(consumerId);
      if (id === undefined) throw new Error(`no LBS entry was delivered for ${stream}`);
      await this.command('HSET', this.keys.owners, stream, id);
      await this.command('HINCRBY', this.keys.loads, consumerId, 1);
      ids.push(id);
    }
    return ids;
  }

  /** Sets how many times an entry pending under `consumerId` has been delivered. */
  async setDeliveries(id: string, consumerId: string, deliveries: number): Promise<void> {
    await this.command('XCLAIM', this.keys.lbs, this.keys.group, consumerId, 0, id, 'RETRYCOUNT', deliveries, 'JUSTID');
  }

  /** The pending entries list, of one consumer or of all. */
  async pending(consumerId?: string): Promise<Pending[]> {
    const args = ['XPENDING', this.keys.lbs, this.keys.group, '-', '+', 1000, ...(consumerId === undefined ? [] : [consumerId])];
    const rows = (await this.command(...args)) as Array<[string, string, number, number]>;
    return rows.map(([id, consumer, , deliveries]) => ({ id, consumer, deliveries }));
  }

  /** The consumers of the LBS consumer group, by name. */
  async groupConsumers(): Promise<string[]> {
    const rows = (await this.command('XINFO', 'CONSUMERS', this.keys.lbs, this.keys.group)) as Array<Array<string | number>>;
    return rows.map((row) => String(row[row.indexOf('name') + 1]));
  }

  /** The ids left in the LBS. */
  async lbsIds(): Promise<string[]> {
    const entries = (await this.command('XRANGE', this.keys.lbs, '-', '+')) as Array<[string, string[]]>;
    return entries.map(([id]) => id);
  }

  /** The dead-letter stream's entries, each as an object of its fields. */
  async deadLetters(): Promise<Array<Record<string, string>>> {
    const entries = (await this.command('XRANGE', this.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
    return entries.map(([, fields]) => Object.fromEntries(pairs(fields)));
  }

  hash(key: string): Promise<Record<string, string>> {
    return this.redis.hGetAll(key);
  }

  async score(consumerId: string): Promise<number | null> {
    return this.redis.zScore(this.keys.consumers, consumerId);
  }
}

async function connect(url: string): Promise<NodeRedis> {
  const redis = createInspectingClient({ url });
  redis.on('error', () => undefined);
  await redis.connect();
  return redis;
}

function pairs(fields: string[]): Array<[string, string]> {
  const result: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) result.push([fields[i]!, fields[i + 1]!]);
  return result;
}

/**
 * Frames a script spec file: a private redis-server for the file, and before each test a new ScriptBench (a service
 * of its own) handed to `setUp`, closed after the test.
 */
export function useScriptBench(setUp: (bench: ScriptBench) => Promise<void> | void, options: StartRedisOptions = {}): void {
  let url = '';
  let stop: () => Promise<void> = async () => undefined;
  let bench: ScriptBench | undefined;
  beforeAll(async () => {
    const server = await startRedis(options);
    url = server.url;
    stop = () => server.stop();
  });
  afterAll(() => stop());
  beforeEach(async () => {
    bench = await ScriptBench.open(url);
    await setUp(bench);
  });
  afterEach(() => bench?.close());
}
