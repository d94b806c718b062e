import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import { ClientLog } from './client-log.js';
import type { ClientContext } from './context.js';
import { AlreadyClaimedError, ConfigError, NotOwnerError, NotRunningError, RedisStreamClientError, SessionLostError } from './errors.js';
import type { ExpiredStream, RedisStreamClientEvents, StreamLease } from './events.js';
import { decodeInfo } from './scripts/outcomes.js';
import { FailureDetector } from './failure-detector.js';
import { Connections } from './connections.js';
import { ensureExpiredEvents } from './keyspace-config.js';
import { KeyspaceSubscriber } from './keyspace-subscriber.js';
import { keysFor, sessionKey } from './keys.js';
import { LbsReader, createGroup } from './lbs-reader.js';
import { NodeLink, type NodeRedisClient } from './node-link.js';
import { Notifier } from './notifier.js';
import { parseOptions, parseTimeout, type RedisStreamClientOptions, type ResolvedOptions } from './options.js';
import { OwnedStreams } from './owned-streams.js';
import { addStream } from './producer.js';
import type { ClientHealth, ClientState } from './health.js';
import { ClientMetrics, METRICS_OBSERVERS, type MetricsObserver, type MetricsSnapshot } from './metrics.js';
import { readServiceMetrics, type ServiceMetrics } from './service-metrics.js';
import { assertNodeRedis, connectionInfo, type RedisClientLike, type RedisConnection } from './redis.js';
import { ScriptRunner } from './scripts/runner.js';
import { Session, sessionScripts } from './session.js';
import { isCluster } from './cluster-client.js';
import { ClusterNodes, FollowedMaster, singleNode } from './processing/data-nodes.js';
import { Processing, type DataAccess } from './processing/processing.js';
import { parseRunOptions, type RunOptions } from './processing/run-options.js';
import { isStreamId } from './processing/stream-id.js';
import type { OwnedLease } from './leases.js';
import { Takeover } from './takeover.js';
import { untilAborted, withTimeout } from './timeout.js';
import { HandOver, type HandOverResult } from './hand-over.js';
import { Inbox } from './inbox.js';
import { Membership } from './membership.js';
import { Rebalancer } from './rebalancer.js';

/** The largest part of a stream id: each of its two parts is a 64-bit unsigned number. */
const MAX_ID_PART = 2n ** 64n - 1n;

const expiredSchema = z.object({
  stream: z.string().min(1),
  lbsId: z
    .string()
    .regex(/^\d+-\d+$/)
    .refine((id) => id.split('-').every((part) => BigInt(part) <= MAX_ID_PART), 'each part of a stream id is at most 2^64 - 1'),
  previousOwner: z.string().min(1),
});

/** Raised on the fencing counter when the service's keys move to another master (a failover, a slot migration):
 * more than asynchronous replication can lose, so tokens granted there stay above every token granted before. */
const TOKEN_FAILOVER_MARGIN = 2 ** 30;
/** How long init() may take in all, by default. */
const INIT_TIMEOUT_MS = 10_000;
/** How long close() and done() wait for Redis, by default: an unreachable Redis must not hold a shutdown up. */
const STOP_TIMEOUT_MS = 5_000;
/** How long drain() tries to hand every stream over, by default. */
const DRAIN_TIMEOUT_MS = 30_000;
/** How long serviceMetrics() waits for Redis: a scrape must not hang through an outage. */
const SERVICE_METRICS_TIMEOUT_MS = 2_000;

/** Options of `init()`. */
export interface InitOptions {
  /** How long init() may take in all before it gives up and rejects (ms). Default 10,000. */
  timeoutMs?: number;
}

/** Options of `drain()`. */
export interface DrainOptions {
  /** How long to try to hand every stream over (ms). Default 30,000. */
  timeoutMs?: number;
}

/** What `drain()` did: how many streams went to other consumers, and the leases still owned when it gave up. */
export type DrainResult = HandOverResult;

/** Options of `close()`. */
export interface CloseOptions extends StopOptions {
  /**
   * Keep this consumer's streams for its next process under the same `consumerId` (a restart, a rolling deploy) for
   * `restartGraceMs`: nobody else takes them meanwhile, and the next process takes them back (`origin: 'restart'`).
   * If none comes back in time, the others take them over. Needs an explicit `consumerId` (ConfigError otherwise).
   */
  restart?: boolean;
}

/** Options of `close()` and `done()`. */
export interface StopOptions {
  /** How long to wait (ms), first for the handlers under way when `run()` is registered (default heartbeatMs: then
   * their signals are aborted), then for Redis (default 5,000): what was not handed over or finished by then is
   * taken over by the peers once this consumer's session expires, as after a crash. */
  timeoutMs?: number;
}

/**
 * A consumer of a service's streams. Streams named on the service's load balancer stream are handed out across
 * the consumers of the service; when one dies or stalls, the others are told at once and take its streams over.
 * See docs/architecture.md for the parts and docs/guarantees.md for what holds under faults.
 */
export class RedisStreamClient extends EventEmitter<RedisStreamClientEvents> {
  private readonly options: ResolvedOptions;
  private readonly context: ClientContext;
  private readonly notifier: Notifier;
  private readonly link: NodeLink;
  private readonly session: Session;
  private readonly detector: FailureDetector;
  private readonly streams: OwnedStreams;
  private readonly takeover: Takeover;
  private readonly processing: Processing;
  private readonly handOver: HandOver;
  private readonly inbox: Inbox;
  private readonly rebalancer: Rebalancer;
  private readonly membership: Membership;
  /** The database number the client really uses (known once started). */
  private database = 0;
  private subscriber: KeyspaceSubscriber | undefined;
  private reader: LbsReader | undefined;
  private readonly connections = new Connections((error) => this.handleError(error));
  private state: ClientState = 'new';
  /** The init() under way: close() ends it through `abort`, then waits for `settled`. */
  private initAttempt: { abort: AbortController; settled: Promise<void> } | undefined;

  /**
   * @param redis a connected node-redis client (`createClient`) or cluster client (`createCluster`) of node-redis
   * 4.7+, 5 or 6, in any protocol, or a node-redis 5 or 6 Sentinel client (`createSentinel`). The client duplicates
   * it for connections of its own (commands, heartbeats, the blocking LBS read, the subscriber), which speak RESP2
   * without a command timeout whatever the client's settings, and closes only those. On a cluster it talks to the
   * master that owns the service's hash slot, and follows it when it fails over or moves; with Sentinel, to the
   * master the sentinels name, and follows it through failovers.
   */
  constructor(
    private readonly redis: NodeRedisClient,
    options: RedisStreamClientOptions,
  ) {
    super();
    assertNodeRedis(redis);
    this.options = parseOptions(options);
    const keys = keysFor(this.options.serviceName);
    const log = new ClientLog(this.options.logger, this.options.serviceName, this.options.consumerId);
    const metrics = new ClientMetrics((error) =>
      this.notifier.report(new RedisStreamClientError(`A metrics observer (an exporter's) threw: ${String(error)}`, { cause: error })),
    );
    this.notifier = new Notifier(this, log, metrics);
    this.link = new NodeLink(
      redis,
      keys.lbs,
      Math.min(1000, this.options.heartbeatMs / 2),
      (node) => this.connections.open('commands', node),
      (node) => this.moved(node),
      (error) => this.handleError(error),
    );
    const commander = this.link.commander;
    this.context = { redis: commander, scripts: new ScriptRunner(commander), keys, consumerId: this.options.consumerId, options: this.options, log, metrics };
    this.detector = new FailureDetector(this.context, {
      // A draining consumer takes nothing over; resume() looks for dead peers again.
      onPeerDead: (consumerId) => {
        if (!this.membership.draining) this.takeover.handle(consumerId);
      },
      onOwnSessionExpired: () => this.session.heartbeatSoon(),
    });
    this.session = new Session(this.context, sessionScripts(commander, this.context), this.detector, {
      onHeartbeat: (result) => this.rebalancer.heartbeat(result.membership, result.excess),
      sharesSeenAt: () => this.rebalancer.sharesSeenAt(),
      onLost: () => {
        const count = this.streams.size;
        this.streams.disownAll();
        this.handleError(
          new SessionLostError(
            `This consumer's session ended (no heartbeat within its validity window: Redis unreachable, or the process stalled); ${count} stream(s) disowned`,
          ),
        );
      },
      onRenewed: () => void this.streams.recover(false).catch((error: unknown) => this.handleError(error)),
      onError: (error) => this.handleError(error),
    }, () => this.membership.record());
    this.streams = new OwnedStreams(this.context, this.session, this.notifier);
    this.processing = new Processing(this.context, this.session, this.connections, () => this.dataAccess(), {
      disown: (lease, reason) => this.streams.disown(lease, reason),
      finish: (lease) => this.finish(lease),
      reject: (lease, reason) => this.streams.reject(lease, reason),
      report: (error) => this.handleError(error),
    });
    this.streams.attach(this.processing);
    this.takeover = new Takeover(this.context, this.session, {
      onExpired: (expired) => this.notifier.notify('streamExpired', expired),
      onClaimFailed: () => this.streams.checkForStraysSoon(),
      onClaimed: (grant) => this.streams.add(grant),
      onError: (error) => this.handleError(error),
    });
    this.handOver = new HandOver(this.context, this.session, {
      streams: this.streams,
      notifier: this.notifier,
      release: (leases, timeoutMs) => this.processing.release(leases, timeoutMs),
      database: () => this.database,
    });
    this.inbox = new Inbox(this.context, this.session, {
      onHanded: (grant) => this.streams.add(grant),
      onOffered: (expired) => {
        this.streams.expectClaim(expired.lbsId);
        this.takeover.offered(expired);
      },
      onError: (error) => this.handleError(error),
    });
    this.membership = new Membership(this.context, this.session, this.streams, this.handOver);
    this.rebalancer = new Rebalancer(this.context, {
      handOver: this.handOver,
      owned: () => this.streams.all(),
      takingOver: () => this.takeover.busy,
      draining: () => this.membership.draining,
      onError: (error) => this.handleError(error),
    });
  }

  /** This consumer's id in the consumer group. */
  id(): string {
    return this.context.consumerId;
  }

  /** The streams this consumer owns now. */
  owned(): StreamLease[] {
    return this.streams.all();
  }

  /** Counters since this client was created (streams acquired, released, lost; claims; dead letters; entries processed,
   * failed, retried under run()) and gauges of now (owned streams, heartbeat round trips and the validity margin left,
   * buffered entries, lag): see docs/operations.md, "Metrics". From memory: no call to Redis. */
  metrics(): MetricsSnapshot {
    const snapshot = this.context.metrics.snapshot(this.streams.size, this.processing.backlog());
    return { service: this.options.serviceName, consumer: this.options.consumerId, ...snapshot };
  }

  /** Adds an observer of each heartbeat round trip and handler call as it happens, for exporters that record
   * histograms (redis-stream-client/otel); returns what removes it. Keyed by a symbol: not part of the API. */
  [METRICS_OBSERVERS](observer: MetricsObserver): () => void {
    return this.context.metrics.observe(observer);
  }

  /**
   * The service's state in Redis, read now: LBS entries not assigned yet, streams awaiting takeover, dead-letter
   * stream lengths, live consumers. The same from every consumer of the service. Rejects after `timeoutMs` (2 s by
   * default) when Redis does not answer, and with a NotRunningError unless the client runs.
   */
  async serviceMetrics(options: { timeoutMs?: number } = {}): Promise<ServiceMetrics> {
    this.assertRunning('serviceMetrics');
    const timeoutMs = parseTimeout(options.timeoutMs, SERVICE_METRICS_TIMEOUT_MS);
    return withTimeout(readServiceMetrics(this.context.redis, this.options.serviceName, this.context.keys), timeoutMs);
  }

  /** For liveness and readiness probes: state, session validity, owned count, last heartbeat, draining. From
   * memory: no call to Redis. */
  health(): ClientHealth {
    const session = this.session.health();
    return {
      state: this.state,
      sessionValid: session.valid,
      validityMsLeft: session.validityMsLeft,
      owned: this.streams.size,
      lastHeartbeatAt: session.lastHeartbeatAt,
      draining: this.membership.draining,
    };
  }

  /**
   * Processes every owned stream, now and later (new, taken over, handed over), with `eachEntry` (one entry of a
   * stream at a time, in order) or `eachBatch`: each new owner goes on from the position the last one committed.
   * Returns at once; may be called before or after init(), once. Throws a TypeError unless exactly one handler is
   * given, a ConfigError naming a wrong option, a RedisStreamClientError when called twice, and a NotRunningError
   * after close() or done(). See docs/guarantees.md for the delivery guarantee.
   */
  run(options: RunOptions): void {
    if (this.state === 'stopping' || this.state === 'stopped') throw new NotRunningError('run() needs a client that is not closed');
    if (this.processing.running) throw new RedisStreamClientError('run() was already called on this client: it processes every owned stream');
    this.processing.register(parseRunOptions(options), this.streams.all());
  }

  /** The stored position of a stream (the id of its last processed entry, as committed), or undefined. */
  async getPosition(stream: string): Promise<string | undefined> {
    this.assertRunning('getPosition');
    return this.processing.getPosition(stream);
  }

  /**
   * Sets a stream's position (the id of its last processed entry): to rewind, skip, or seed it from a checkpoint of
   * your own. Allowed to the stream's current owner (its processing goes on after `id`) or while nobody owns it;
   * rejects with NotOwnerError otherwise, and with a TypeError when `id` is not a stream id.
   */
  async setPosition(stream: string, id: string): Promise<void> {
    this.assertRunning('setPosition');
    if (!isStreamId(id)) throw new TypeError(`setPosition() expects a stream id such as "1700000000000-0", got ${JSON.stringify(id)}`);
    const lease = this.streams.get(stream);
    await this.processing.setPosition(stream, id, lease && this.session.isValid() ? lease : undefined);
  }

  /**
   * Starts the client: checks keyspace notifications, subscribes, registers this consumer's session, takes back
   * what an earlier incarnation with the same consumerId held, and starts reading the LBS. Rejects with a
   * ConfigError when notifications are off and cannot be turned on, and with a RedisStreamClientError when Redis
   * does not answer within `timeoutMs`; a failed init() leaves nothing running and may be called again.
   */
  async init(options: InitOptions = {}): Promise<void> {
    const timeoutMs = parseTimeout(options.timeoutMs, INIT_TIMEOUT_MS);
    if (this.state !== 'new') {
      throw new RedisStreamClientError(`init() needs a client that is not started yet (this one is ${this.state})`);
    }
    if (!this.options.autoClaim && this.listenerCount('streamExpired') === 0) {
      this.context.log.warn(
        'Manual mode (autoClaim: false) and no streamExpired listener: the streams of dead peers will wait until a consumer claims them',
      );
    }
    this.state = 'starting';
    const abort = new AbortController();
    const settled = this.initWithin(timeoutMs, abort);
    this.initAttempt = { abort, settled: settled.then(() => undefined, () => undefined) };
    try {
      await settled;
    } finally {
      this.initAttempt = undefined;
    }
  }

  private async initWithin(timeoutMs: number, abort: AbortController): Promise<void> {
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)]);
    const started = this.start(signal);
    try {
      await untilAborted(started, signal);
      this.state = 'running';
      this.context.log.info('Started', { owned: this.streams.size, heartbeatMs: this.options.heartbeatMs });
    } catch (error) {
      // The start may still be waiting for Redis: it gives up at its next step, and what it opened is closed here.
      started.catch(() => undefined);
      if (!abort.signal.aborted) abort.abort();
      await this.shutDown(1000);
      const closed = this.state === 'stopping';
      this.state = closed ? 'stopped' : 'new';
      if (closed) this.notifier.stop();
      if (closed) throw new NotRunningError('init() was ended by close() or done()');
      if (signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError') {
        throw new RedisStreamClientError(`init() gave up: Redis did not answer within ${timeoutMs} ms (init's \`timeoutMs\`)`, { cause: error });
      }
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
    const incarnation = this.session.incarnation();
    if (!incarnation.isCurrent()) throw new SessionLostError('This consumer has lost its session; it cannot claim');
    const { stream, lbsId, previousOwner } = parsed.data;
    // A payload this consumer emitted carries the entry's own Info; any other (copied, forged) is checked against
    // the entry, and the lease gets the entry's Info, not the caller's.
    const known = this.takeover.reportedHere(expired);
    const outcome = await this.takeover.claimOne(previousOwner, { stream, lbsId, known });
    if (typeof outcome === 'string') throw new AlreadyClaimedError(stream, outcome);
    // Granted to an incarnation that ended meanwhile: the next one takes it back and reports it as streamAdded.
    if (!incarnation.isCurrent()) {
      throw new SessionLostError('This consumer lost its session while claiming');
    }
    const info = outcome.raw === '' ? expired.info : decodeInfo(outcome.raw, { lbsId, stream }, (error) => this.handleError(error));
    return this.streams.add({ stream, lbsId, info, token: outcome.token, origin: outcome.origin }, false);
  }

  /** Marks a stream's work finished: its LBS entry is acknowledged and deleted. Rejects with NotOwnerError when
   * this consumer does not own the stream. */
  async doneStream(stream: string): Promise<void> {
    this.assertRunning('doneStream');
    const lease = this.streams.get(stream);
    if (!lease || !this.session.isValid()) throw new NotOwnerError(stream);
    this.processing.ending(lease);
    await this.finish(lease);
  }

  private async finish(lease: OwnedLease): Promise<void> {
    const [outcome] = await this.streams.finish([lease]);
    if (outcome !== 'done') throw new NotOwnerError(lease.stream);
  }

  /**
   * Shuts down finishing everything: doneStream on every owned stream, then this consumer leaves the fleet.
   * Rejects when Redis did not answer within `timeoutMs` (default 5 s); what was not finished by then is taken
   * over by the peers once this consumer's session expires.
   */
  async done(options: StopOptions = {}): Promise<void> {
    await this.stop(options, true, async () => {
      if (!this.session.isValid()) return;
      await this.streams.finish(this.streams.all());
      await this.session.retire();
    });
  }

  /**
   * Shuts down handing unfinished streams to the other consumers at once: each goes to the consumer furthest below its
   * fair share (`streamReleased` with reason 'close'; every lease's signal is aborted); with nobody to receive them,
   * they are left for the others to take over once this consumer's session has ended, which it does at once. Waits
   * for Redis at most `timeoutMs` (default 5 s): past that, the session simply expires and the peers take over then.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (options.restart && !this.options.consumerIdGiven) {
      throw new ConfigError(
        'close({ restart: true }) needs an explicit `consumerId`: the default one changes with every process, so no restart could come back to its streams',
        'consumerId',
      );
    }
    await this.stop(options, false, async () => {
      await this.processing.commit();
      await this.rebalancer.settled();
      if (options.restart) {
        this.releaseAll('close');
        if (this.session.isValid()) await this.session.suspend(this.options.restartGraceMs);
        return;
      }
      // Out of the shares, so that everything may go; what nobody may be handed stays for the takeover. The draining
      // mark and the hand-off go out one after the other on the one connection, without waiting for a reply in
      // between: Redis runs them in that order.
      const calls = [this.membership.setDraining(true), this.handOver.give(this.streams.all(), 'close')];
      // Both settle before close() goes on to shut down, failed or not.
      await Promise.allSettled(calls);
      await Promise.all(calls);
      this.releaseAll('close');
      if (this.session.isValid()) await this.session.retire();
    });
  }

  /** Ends every lease still held, announcing each as released. */
  private releaseAll(reason: 'close'): void {
    for (const lease of this.streams.giveUpAll(new RedisStreamClientError('The client was closed'))) {
      this.notifier.notify('streamReleased', { lease, reason });
    }
  }

  /**
   * Hands every owned stream over to the other consumers (reason 'drain') and takes no new streams, takeovers or
   * shares until resume(); the fleet sees this consumer as draining. Resolves when everything is handed over, or
   * after `timeoutMs` (default 30 s) with the streams nobody could receive (no other consumer alive, or all of them
   * full) still owned, as `kept`. The client keeps running: call close() next, or resume().
   */
  async drain(options: DrainOptions = {}): Promise<DrainResult> {
    const timeoutMs = parseTimeout(options.timeoutMs, DRAIN_TIMEOUT_MS);
    this.assertRunning('drain');
    await this.membership.setDraining(true);
    // Whatever the LBS read, the takeovers and the hand-offs under way bring is admitted before the hand-over, and
    // nothing after it.
    await this.reader?.settle();
    await this.takeover.settled();
    await this.subscriber?.heardAll(this.context.redis);
    await this.rebalancer.settled();
    return this.membership.handOverAll(timeoutMs, () => this.state === 'running');
  }

  /** Ends drain(): this consumer takes new streams, takeovers and its share again. */
  async resume(): Promise<void> {
    this.assertRunning('resume');
    if (!this.membership.draining) return;
    await this.membership.setDraining(false);
    await this.detector.reconcile();
  }

  /** Stops reading, waits for the handlers under way, then `leave`s the fleet; every part is shut down either way. */
  private async stop(options: StopOptions, strict: boolean, leave: () => Promise<void>): Promise<void> {
    const timeoutMs = parseTimeout(options.timeoutMs, STOP_TIMEOUT_MS);
    const drainMs = parseTimeout(options.timeoutMs, this.options.heartbeatMs);
    if (this.state === 'starting') {
      // Ends the init() under way; it shuts everything down itself.
      this.state = 'stopping';
      this.initAttempt?.abort.abort();
      await withTimeout(this.initAttempt?.settled ?? Promise.resolve(), timeoutMs).catch(() => undefined);
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'stopping';
    let deadline = performance.now() + timeoutMs;
    let failure: unknown;
    try {
      await withTimeout(this.reader?.stop() ?? Promise.resolve(), timeoutMs);
      const draining = performance.now();
      await this.processing.drain(drainMs);
      // The wait for handlers does not count against the time given to Redis.
      deadline += performance.now() - draining;
      await withTimeout(leave(), Math.max(0, deadline - performance.now()));
    } catch (error) {
      failure = error;
    }
    await this.shutDown(Math.max(0, deadline - performance.now()));
    this.state = 'stopped';
    this.context.log.info('Stopped', { how: strict ? 'done' : 'close', failed: failure !== undefined });
    // Error summaries still held back go out now: no count is lost.
    this.notifier.stop();
    if (failure === undefined) return;
    if (strict) throw failure instanceof RedisStreamClientError ? failure : new RedisStreamClientError(String(failure), { cause: failure });
    this.handleError(failure);
  }

  /** Adds a stream to this service's LBS (see the standalone `addStream`). */
  addStream(stream: string, info?: Record<string, unknown>): Promise<string> {
    return addStream(this.redis, this.options.serviceName, stream, info);
  }

  /** Starts every part; each step first checks that init() has not given up meanwhile. */
  private async start(signal: AbortSignal): Promise<void> {
    this.takeover.start();
    this.inbox.start();
    this.connections.reopen();
    const node = await this.link.connect();
    signal.throwIfAborted();
    const { database, protocol } = await connectionInfo(node);
    if (protocol !== 2) {
      // The library's connections ask for RESP2 (DEDICATED_CONNECTION); a client that ignores it is not node-redis 4-6.
      throw new ConfigError(`The client's duplicates speak RESP${protocol} though RESP2 was asked for: not a node-redis 4, 5 or 6 client`, 'redis');
    }
    this.database = database;
    signal.throwIfAborted();
    this.subscriber = new KeyspaceSubscriber(this.context.keys, sessionKey(this.context.keys, this.context.consumerId), database, {
      onSessionExpired: (consumerId) => this.detector.expired(consumerId),
      onHandoff: (message) => this.inbox.received(message),
      onResubscribed: () => void this.resync().catch((error: unknown) => this.handleError(error)),
      onError: (error) => this.handleError(error),
    });
    this.session.announceOn('', database);
    await this.listenOn(node, 'subscribe');
    signal.throwIfAborted();
    await createGroup(this.context);
    signal.throwIfAborted();
    this.session.use(sessionScripts(await this.connections.open('session', node), this.context));
    const { previousFailed } = await this.session.start();
    signal.throwIfAborted();
    await this.streams.recover(previousFailed);
    signal.throwIfAborted();
    this.streams.startSelfCheck();
    await this.detector.reconcile();
    this.reader = new LbsReader(this.context, this.session, await this.connections.open('reader', node), {
      onOutcomes: (outcomes) => this.streams.admit(outcomes, 'new'),
      onStrays: (ids) => this.streams.takeBack(ids),
      onError: (error) => this.handleError(error),
      capacity: () => (this.membership.draining ? 0 : this.options.maxStreams - this.streams.size),
      interrupt: () => this.connections.close('reader'),
      unblock: async (connectionId) => void (await this.context.redis.sendCommand(['CLIENT', 'UNBLOCK', String(connectionId), 'TIMEOUT'])),
    });
    signal.throwIfAborted();
    this.reader.start();
    this.processing.start();
  }

  /** Where the data streams are: on a single Redis, read through a connection of their own; with Sentinel, too,
   * moved with the client to each new master; on a cluster, through one of their own per master, following the
   * slot map. */
  private async dataAccess(): Promise<DataAccess> {
    if (isCluster(this.redis)) {
      const nodes = new ClusterNodes(this.redis, this.connections, (error) => this.handleError(error));
      return { nodes: await nodes.start(), database: 0 };
    }
    if (this.link.follows) {
      const nodes = new FollowedMaster(this.link, this.connections, (error) => this.handleError(error));
      return { nodes: await nodes.start(), database: this.database };
    }
    const node = this.link.node;
    return { nodes: singleNode(await this.connections.open('data', node), node), database: this.database };
  }

  /** The service's keys are now on another master (a failover; on a cluster, a slot migration too): move every
   * connection there. Expiry events and scripts do not follow, so set the flags again and reconcile. */
  private async moved(node: RedisConnection): Promise<void> {
    if (this.state !== 'running') return;
    this.context.log.warn(`The service's keys moved to another master; following it`, { node: this.link.address });
    // Raise the fencing counter before anything can be granted there.
    await node.sendCommand(['INCRBY', this.context.keys.token, String(TOKEN_FAILOVER_MARGIN)]);
    // The session first: its heartbeats must reach the new master before the validity window ends.
    this.session.use(sessionScripts(await this.connections.open('session', node), this.context));
    this.session.heartbeatSoon();
    this.reader?.useConnection(await this.connections.open('reader', node));
    await this.listenOn(node, 'subscribe');
    await this.detector.reconcile();
  }

  /** After the subscriber reconnects: Redis may have restarted (flags and scripts forgotten) and expiry events
   * sent meanwhile are lost, so check the flags again and look for dead peers. */
  private async resync(): Promise<void> {
    if (this.state !== 'running') return;
    await this.listenOn(this.link.node, 'if-changed');
    this.session.heartbeatSoon();
    // A hand-off message sent meanwhile is lost: what it handed over is pending here with no lease.
    this.streams.checkForStraysSoon();
    await this.detector.reconcile();
    await this.processing.resync();
  }

  /**
   * Makes sure expiries of session keys are published on `node` and heard: the flags (set again: a restarted or
   * newly promoted Redis has forgotten them), the subscription (on a new connection: always, or only when the
   * channel changed), the channel the sweep announces deaths on, and, on a cluster, the flags of the other masters.
   * At start, when the flags cannot be read (CONFIG refused), a probe checks that expiries are heard at all.
   */
  private async listenOn(node: RedisClientLike, resubscribe: 'subscribe' | 'if-changed'): Promise<void> {
    const subscriber = this.subscriber!;
    const channel = await ensureExpiredEvents(node, this.options.configureKeyspaceEvents);
    if (resubscribe === 'subscribe' || (channel && !subscriber.listensOn(channel))) {
      // Both channels when the flags could not be read; the probe then checks at start.
      const before = subscriber.listening;
      const channels = channel ? [channel] : before.length > 0 ? before : (['keyspace', 'keyevent'] as const);
      await subscriber.start(await this.connections.open('subscriber', node), channels);
      if (!channel && before.length === 0) await subscriber.probe(node);
    }
    this.session.announceOn(channel ?? 'keyspace');
    await this.flagOtherMasters();
  }

  /** On a cluster the flags are per node: set them on every master, so that wherever the service's slot moves
   * (a migration, or a failover to a replica that is promoted later) its expiries are published. Best effort:
   * the slot's own master is the one that matters now, and it was checked strictly. */
  private async flagOtherMasters(): Promise<void> {
    if (!this.options.configureKeyspaceEvents) return;
    await this.link.onOtherMasters((node) => ensureExpiredEvents(node, true));
  }

  /**
   * Stops every part and closes every connection of the client's own at once, then waits up to `waitMs` for the
   * work under way to end (only a Redis that does not answer can hold it up).
   */
  private async shutDown(waitMs: number): Promise<void> {
    this.session.stop();
    this.inbox.stop();
    this.streams.stop();
    this.processing.stop();
    const quiet = Promise.allSettled([this.reader?.stop(), this.takeover.stop()]);
    await this.connections.closeAll();
    await this.link.stop();
    this.streams.giveUpAll(new RedisStreamClientError('The client was closed'));
    await withTimeout(quiet, waitMs).catch(() => undefined);
    this.reader = undefined;
    this.subscriber = undefined;
  }

  private assertRunning(method: string): void {
    if (this.state !== 'running') {
      throw new NotRunningError(`${method}() needs a running client (call init() first; not after done() or close())`);
    }
  }

  /** Delivers an error through `error`; a Redis or socket error may also mean the slot moved or a reply was lost. */
  private handleError(error: unknown): void {
    if (!(error instanceof RedisStreamClientError)) {
      // A Redis or socket error: the slot may have moved (cluster), a reply may have been lost.
      this.link.checkSoon();
      if (this.state === 'running') this.streams.checkForStraysSoon();
    }
    this.notifier.report(error);
  }
}
