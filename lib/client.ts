import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import type { ClientContext } from './context.js';
import {
  AlreadyClaimedError,
  DeadLetterError,
  NotOwnerError,
  NotRunningError,
  RedisStreamClientError,
  SessionLostError,
} from './errors.js';
import type { ExpiredStream, RedisStreamClientEvents, StreamLease } from './events.js';
import { decodeOutcomes, type EntryOutcome } from './grants.js';
import { ensureExpiredEvents } from './keyspace-config.js';
import { KeyspaceSubscriber } from './keyspace-subscriber.js';
import { keysFor, sessionKey } from './keys.js';
import { LbsReader, createGroup } from './lbs-reader.js';
import { LeaseRegistry, type LeaseGrant } from './leases.js';
import { parseOptions, type RedisStreamClientOptions, type ResolvedOptions } from './options.js';
import { addStream } from './producer.js';
import { closeConnection, currentDatabase, openConnection, type RedisClientLike, type RedisConnection } from './redis.js';
import { Scripts } from './scripts.js';
import { Session } from './session.js';
import { SlotMaster, isCluster, type RedisClusterLike } from './slot-master.js';
import { Takeover } from './takeover.js';
import { withTimeout } from './timeout.js';

const expiredSchema = z.object({
  stream: z.string().min(1),
  lbsId: z.string().regex(/^\d+-\d+$/),
  previousOwner: z.string().min(1),
  info: z.record(z.string(), z.unknown()),
});
const recoverReply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok'), z.string()]).rest(z.array(z.unknown()))]);
const consumersReply = z.array(z.array(z.union([z.string(), z.number()])));
const finishReply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.enum(['done', 'not-owner']))]);

/** Raised on the fencing counter when the service's slot moves to another master: more than asynchronous
 * replication can lose, so tokens granted there stay above every token granted before. */
const TOKEN_FAILOVER_MARGIN = 2 ** 30;
const RECOVER_PAGE = 500;
const FINISH_BATCH = 500;
/** How long init() waits for Redis to answer at all. */
const CONNECT_TIMEOUT_MS = 10_000;

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * A consumer of a service's streams. Streams named on the service's load balancer stream are handed out across
 * the consumers of the service; when one dies or stalls, the others are told at once and take its streams over.
 * See docs/architecture.md for the parts and docs/guarantees.md for what holds under faults.
 */
export class RedisStreamClient extends EventEmitter<RedisStreamClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly context: ClientContext;
  private readonly leases: LeaseRegistry;
  private readonly session: Session;
  private readonly takeover: Takeover;
  /** The plain client for the service's keys: the one given, or (cluster) a connection to the slot's master. */
  private node: RedisClientLike | undefined;
  private slotMaster: SlotMaster | undefined;
  private subscriber: KeyspaceSubscriber | undefined;
  private reader: LbsReader | undefined;
  private readerConnection: RedisConnection | undefined;
  private state: State = 'new';
  private starting: Promise<void> | undefined;

  /**
   * @param redis a connected node-redis v4 client (`createClient`) or cluster client (`createCluster`). The client
   * duplicates it for its own blocking-read and subscriber connections, and closes only those. On a cluster it
   * talks to the master that owns the service's hash slot, and follows it when it fails over or moves.
   */
  constructor(
    private readonly redis: RedisClientLike | RedisClusterLike,
    options: RedisStreamClientOptions,
  ) {
    super();
    this.options = parseOptions(options);
    const consumerId = this.options.consumerId;
    // Every part sends its commands through this, to whichever node holds the service's keys now.
    const commander = { sendCommand: (args: string[]) => this.currentNode().sendCommand(args) };
    this.context = {
      redis: commander,
      scripts: new Scripts(commander),
      keys: keysFor(this.options.serviceName),
      consumerId,
      options: this.options,
    };
    this.leases = new LeaseRegistry(consumerId);
    this.session = new Session(this.context, {
      onLost: () => this.disownAll(),
      onRenewed: () => void this.recoverOwn().catch((error: unknown) => this.report(error)),
      onDeadPeers: (consumerIds) => consumerIds.forEach((id) => this.takeover.handle(id)),
      onError: (error) => this.report(error),
    });
    this.takeover = new Takeover(this.context, this.session, {
      onExpired: (expired) => this.notify('streamExpired', expired),
      onClaimed: (grant) => this.notify('streamAdded', this.leases.add(grant, true)),
      onError: (error) => this.report(error),
    });
  }

  /** This consumer's id in the consumer group. */
  id(): string {
    return this.context.consumerId;
  }

  /** The streams this consumer owns now. */
  owned(): StreamLease[] {
    return this.leases.all();
  }

  /**
   * Starts the client: checks keyspace notifications, subscribes, registers this consumer's session, takes back
   * what an earlier incarnation with the same consumerId held, and starts reading the LBS. Rejects with a
   * ConfigError when notifications are off and cannot be turned on, or when Redis does not answer.
   */
  async init(): Promise<void> {
    if (this.state !== 'new') throw new RedisStreamClientError('init() may be called once per client');
    this.state = 'starting';
    this.starting = this.start();
    try {
      await this.starting;
      this.state = 'running';
    } catch (error) {
      await this.shutDown();
      throw error instanceof RedisStreamClientError ? error : new RedisStreamClientError(`init() failed: ${String(error)}`, { cause: error });
    }
  }

  /**
   * Claims a stream reported by `streamExpired`. Resolves with the lease (no `streamAdded` is emitted for it);
   * rejects with AlreadyClaimedError when another consumer won, the owner is alive, or the payload is stale.
   */
  async claim(expired: ExpiredStream): Promise<StreamLease> {
    this.assertRunning('claim');
    const parsed = expiredSchema.safeParse(expired);
    if (!parsed.success) throw new TypeError(`claim() expects a streamExpired payload: ${parsed.error.issues[0]?.message}`);
    if (!this.session.isValid()) throw new SessionLostError('This consumer has lost its session; it cannot claim');
    const nonce = this.session.currentNonce;
    const [outcome] = await this.takeover.claim(expired.previousOwner, [parsed.data]);
    if (typeof outcome !== 'number') throw new AlreadyClaimedError(expired.stream, outcome ?? 'taken');
    // Granted to an incarnation that ended meanwhile: the next one takes it back and reports it as streamAdded.
    if (nonce !== this.session.currentNonce || !this.session.isValid()) {
      throw new SessionLostError('This consumer lost its session while claiming');
    }
    return this.leases.add({ stream: parsed.data.stream, lbsId: parsed.data.lbsId, info: parsed.data.info, token: outcome }, true);
  }

  /** Marks a stream's work finished: its LBS entry is acknowledged and deleted. Rejects with NotOwnerError when
   * this consumer does not own the stream. */
  async doneStream(stream: string): Promise<void> {
    this.assertRunning('doneStream');
    const lease = this.leases.get(stream);
    if (!lease || !this.session.isValid()) throw new NotOwnerError(stream);
    const [outcome] = await this.finish([lease]);
    if (outcome !== 'done') throw new NotOwnerError(stream);
  }

  /** Shuts down finishing everything: doneStream on every owned stream, then this consumer leaves the fleet. */
  async done(): Promise<void> {
    if (!(await this.beginStop())) return;
    try {
      await this.reader?.stop();
      if (this.session.isValid()) {
        const finishing = async (): Promise<void> => {
          for (let owned = this.leases.all(); owned.length > 0; owned = owned.slice(FINISH_BATCH)) {
            await this.finish(owned.slice(0, FINISH_BATCH));
          }
          await this.session.retire();
        };
        await withTimeout(finishing(), this.shutdownTimeoutMs());
      }
    } finally {
      await this.shutDown();
    }
  }

  /** Shuts down handing unfinished streams to the other consumers at once (no `streamDisowned`; every lease's
   * signal is aborted). */
  async close(): Promise<void> {
    if (!(await this.beginStop())) return;
    try {
      await this.reader?.stop();
      this.leases.endAll(new RedisStreamClientError('The client was closed'));
      // An unreachable Redis must not hold close() up: the session then simply expires.
      if (this.session.isValid()) {
        await withTimeout(this.session.release(), this.shutdownTimeoutMs()).catch((error: unknown) => this.report(error));
      }
    } finally {
      await this.shutDown();
    }
  }

  /** Adds a stream to this service's LBS (see the standalone `addStream`). */
  addStream(stream: string, info?: Record<string, unknown>): Promise<string> {
    return addStream(this.redis, this.options.serviceName, stream, info);
  }

  private currentNode(): RedisClientLike {
    if (!this.node) throw new NotRunningError('The client is not connected: call init() first');
    return this.node;
  }

  private async start(): Promise<void> {
    const redis = await Promise.race([
      this.connectNode(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new RedisStreamClientError(`Redis did not answer within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS).unref(),
      ),
    ]);
    const database = await currentDatabase(redis);
    const channel = await ensureExpiredEvents(redis, this.options.configureKeyspaceEvents);
    this.subscriber = new KeyspaceSubscriber(this.context.keys, database, {
      onSessionExpired: (consumerId) => {
        if (consumerId === this.context.consumerId) this.session.heartbeatSoon();
        else this.takeover.handle(consumerId);
      },
      onResubscribed: () => void this.resync().catch((error: unknown) => this.report(error)),
      onError: (error) => this.report(error),
    });
    await this.subscriber.start(redis, channel ? [channel] : ['keyspace', 'keyevent']);
    if (!channel) await this.subscriber.probe(redis, this.context.consumerId);
    await createGroup(this.context);
    await this.session.start();
    await this.recoverOwn();
    await this.reconcile();
    this.readerConnection = await openConnection(redis, (error) => this.report(error));
    this.reader = new LbsReader(this.context, this.session, this.readerConnection, {
      onOutcomes: (outcomes) => this.admit(outcomes, false),
      onError: (error) => this.report(error),
      capacity: () => this.options.maxStreams - this.leases.size,
    });
    this.reader.start();
  }

  private async connectNode(): Promise<RedisClientLike> {
    if (!isCluster(this.redis)) {
      this.node = this.redis;
      return this.redis;
    }
    const heartbeatMs = this.options.heartbeatMs;
    this.slotMaster = new SlotMaster(
      this.redis,
      this.context.keys.lbs,
      Math.min(1000, heartbeatMs / 2),
      (client) => this.moved(client),
      (error) => this.report(error),
    );
    const node = await this.slotMaster.start();
    this.node = node;
    return node;
  }

  /** The service's slot is now served by another master (failover, or slot migration): move every connection
   * there. Expiry events and scripts do not follow, so set the flags again and reconcile. */
  private async moved(client: RedisConnection): Promise<void> {
    this.node = client;
    if (this.state !== 'running') return;
    this.options.logger.warn(`The service's hash slot moved to another master; following it`);
    await client.sendCommand(['INCRBY', this.context.keys.token, String(TOKEN_FAILOVER_MARGIN)]);
    await ensureExpiredEvents(client, this.options.configureKeyspaceEvents);
    await this.subscriber?.restart(client);
    this.reader?.useConnection(await openConnection(client, (error) => this.report(error)));
    this.session.heartbeatSoon();
    await this.reconcile();
  }

  /** After the subscriber reconnects: Redis may have restarted (flags and scripts forgotten) and expiry events
   * sent meanwhile are lost, so check the flags again and look for dead peers. */
  private async resync(): Promise<void> {
    if (this.state !== 'running') return;
    await ensureExpiredEvents(this.context.redis, this.options.configureKeyspaceEvents);
    this.session.heartbeatSoon();
    await this.reconcile();
  }

  /** Finds consumers that hold entries but may have died unnoticed, and hands them to the takeover. */
  private async reconcile(): Promise<void> {
    const { keys, consumerId } = this.context;
    const reply = consumersReply.parse(await this.context.redis.sendCommand(['XINFO', 'CONSUMERS', keys.lbs, keys.group]));
    for (const fields of reply) {
      const name = String(fields[fields.indexOf('name') + 1]);
      const pending = Number(fields[fields.indexOf('pending') + 1]);
      if (name !== consumerId && pending > 0) this.takeover.handle(name);
    }
  }

  /** Takes back the entries still pending under this consumer id (a previous incarnation's). */
  private async recoverOwn(): Promise<void> {
    const { keys, consumerId, options } = this.context;
    const nonce = this.session.currentNonce;
    let after = '-';
    do {
      const reply = recoverReply.parse(
        await this.context.scripts.run(
          'recover',
          [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.token, keys.deadLetter],
          [keys.group, consumerId, nonce, after, RECOVER_PAGE, options.maxEntryBytes, options.maxDeliveries],
        ),
      );
      if (reply[0] === 'lost' || nonce !== this.session.currentNonce) return;
      const [, next, ...items] = reply;
      this.admit(decodeOutcomes(items), true);
      after = next;
    } while (after !== '');
  }

  private admit(outcomes: readonly EntryOutcome[], recovered: boolean): void {
    for (const outcome of outcomes) {
      if (outcome.kind === 'granted') {
        const { kind: _, ...grant } = outcome;
        this.notify('streamAdded', this.leases.add(grant satisfies LeaseGrant, recovered));
      } else if (outcome.kind === 'dead') {
        this.report(new DeadLetterError(outcome.lbsId, outcome.reason));
      } else {
        this.options.logger.info(`Dropped LBS entry ${outcome.lbsId}: stream "${outcome.stream}" is already owned`);
      }
    }
  }

  private async finish(leases: readonly StreamLease[]): Promise<Array<'done' | 'not-owner'>> {
    const { keys, consumerId } = this.context;
    const reply = finishReply.parse(
      await this.context.scripts.run(
        'finish',
        [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads],
        [keys.group, consumerId, this.session.currentNonce, ...leases.flatMap((lease) => [lease.lbsId, lease.stream])],
      ),
    );
    if (reply[0] === 'lost') {
      this.session.heartbeatSoon();
      return leases.map(() => 'not-owner');
    }
    const outcomes = reply.slice(1) as Array<'done' | 'not-owner'>;
    leases.forEach((lease, i) => {
      if (outcomes[i] === 'done') this.leases.remove(lease.stream);
    });
    return outcomes;
  }

  private disownAll(): void {
    const lost = this.leases.endAll(new SessionLostError('This consumer lost its session: another consumer may own the stream'));
    for (const lease of lost) this.notify('streamDisowned', lease);
  }

  private async beginStop(): Promise<boolean> {
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state !== 'running') return false;
    this.state = 'stopping';
    return true;
  }

  private async shutDown(): Promise<void> {
    this.session.stop();
    await this.reader?.stop();
    await closeConnection(this.readerConnection);
    await this.subscriber?.stop();
    await this.slotMaster?.stop();
    this.leases.endAll(new RedisStreamClientError('The client was closed'));
    this.state = 'stopped';
  }

  /** How long done() and close() wait for Redis: past one heartbeat the session has expired anyway. */
  private shutdownTimeoutMs(): number {
    return Math.max(1000, this.options.heartbeatMs);
  }

  private assertRunning(method: string): void {
    if (this.state !== 'running') throw new NotRunningError(`${method}() needs a running client (call init() first; not after done() or close())`);
  }

  /** Calls listeners one by one, so that one that throws or rejects neither stops the others nor the client. */
  private notify<E extends 'streamAdded' | 'streamExpired' | 'streamDisowned'>(
    event: E,
    payload: Parameters<RedisStreamClientEvents[E]>[0],
  ): void {
    for (const listener of this.listeners(event)) {
      try {
        const result: unknown = (listener as (payload: unknown) => unknown)(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.listenerFailed(event, error));
      } catch (error) {
        this.listenerFailed(event, error);
      }
    }
  }

  private listenerFailed(event: string, error: unknown): void {
    this.report(new RedisStreamClientError(`A ${event} listener failed: ${String(error)}`, { cause: error }));
  }

  /** Emits `error`; when nobody listens, or a listener throws, logs instead: an error is never lost. */
  private report(error: unknown): void {
    // On a cluster, any error may mean that the slot moved.
    this.slotMaster?.checkSoon();
    const wrapped = error instanceof RedisStreamClientError ? error : new RedisStreamClientError(String(error), { cause: error });
    const listeners = this.listeners('error');
    if (listeners.length === 0) {
      this.options.logger.error(wrapped.message, wrapped);
      return;
    }
    for (const listener of listeners) {
      try {
        listener(wrapped);
      } catch (listenerError) {
        this.options.logger.error(`An error listener failed: ${String(listenerError)}`, wrapped);
      }
    }
  }
}
