import { EventEmitter } from 'eventemitter3';
import { z } from 'zod';
import { ClientLog } from './client-log.js';
import type { ClientContext } from './context.js';
import { AlreadyClaimedError, NotOwnerError, NotRunningError, RedisStreamClientError, SessionLostError } from './errors.js';
import type { ExpiredStream, RedisStreamClientEvents, StreamLease } from './events.js';
import { ensureExpiredEvents } from './keyspace-config.js';
import { KeyspaceSubscriber } from './keyspace-subscriber.js';
import { keysFor } from './keys.js';
import { LbsReader, createGroup } from './lbs-reader.js';
import { NodeLink } from './node-link.js';
import { Notifier } from './notifier.js';
import { parseOptions, type RedisStreamClientOptions, type ResolvedOptions } from './options.js';
import { OwnedStreams } from './owned-streams.js';
import { addStream } from './producer.js';
import { closeConnection, currentDatabase, openConnection, type RedisClientLike, type RedisConnection } from './redis.js';
import { Scripts } from './scripts.js';
import { Session } from './session.js';
import type { RedisClusterLike } from './slot-master.js';
import { Takeover } from './takeover.js';
import { withTimeout } from './timeout.js';

const expiredSchema = z.object({
  stream: z.string().min(1),
  lbsId: z.string().regex(/^\d+-\d+$/),
  previousOwner: z.string().min(1),
  info: z.record(z.string(), z.unknown()),
});

/** Raised on the fencing counter when the service's slot moves to another master: more than asynchronous
 * replication can lose, so tokens granted there stay above every token granted before. */
const TOKEN_FAILOVER_MARGIN = 2 ** 30;
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
  private readonly notifier: Notifier;
  private readonly link: NodeLink;
  private readonly session: Session;
  private readonly streams: OwnedStreams;
  private readonly takeover: Takeover;
  private subscriber: KeyspaceSubscriber | undefined;
  private reader: LbsReader | undefined;
  private sessionConnection: RedisConnection | undefined;
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
    const keys = keysFor(this.options.serviceName);
    const log = new ClientLog(this.options.logger, this.options.serviceName, this.options.consumerId);
    this.notifier = new Notifier(this, log);
    this.link = new NodeLink(
      redis,
      keys.lbs,
      Math.min(1000, this.options.heartbeatMs / 2),
      (node) => this.moved(node),
      (error) => this.report(error),
    );
    const commander = this.link.commander;
    this.context = { redis: commander, scripts: new Scripts(commander), keys, consumerId: this.options.consumerId, options: this.options, log };
    this.session = new Session(this.context, {
      onLost: () => {
        const count = this.streams.size;
        this.streams.disownAll();
        this.report(
          new SessionLostError(
            `This consumer's session ended (no heartbeat within its validity window: Redis unreachable, or the process stalled); ${count} stream(s) disowned`,
          ),
        );
      },
      onRenewed: () => void this.streams.recover().catch((error: unknown) => this.report(error)),
      onDeadPeers: (consumerIds) => consumerIds.forEach((id) => this.takeover.handle(id)),
      onError: (error) => this.report(error),
    });
    this.streams = new OwnedStreams(this.context, this.session, this.notifier);
    this.takeover = new Takeover(this.context, this.session, {
      onExpired: (expired) => this.notifier.notify('streamExpired', expired),
      onClaimed: (grant) => this.streams.add(grant, true),
      onError: (error) => this.report(error),
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
    const outcome = await this.takeover.claimOne(expired.previousOwner, parsed.data);
    if (typeof outcome === 'string') throw new AlreadyClaimedError(expired.stream, outcome);
    // Granted to an incarnation that ended meanwhile: the next one takes it back and reports it as streamAdded.
    if (nonce !== this.session.currentNonce || !this.session.isValid()) {
      throw new SessionLostError('This consumer lost its session while claiming');
    }
    const { stream, lbsId, info } = parsed.data;
    return this.streams.add({ stream, lbsId, info, token: outcome.token }, true, false);
  }

  /** Marks a stream's work finished: its LBS entry is acknowledged and deleted. Rejects with NotOwnerError when
   * this consumer does not own the stream. */
  async doneStream(stream: string): Promise<void> {
    this.assertRunning('doneStream');
    const lease = this.streams.get(stream);
    if (!lease || !this.session.isValid()) throw new NotOwnerError(stream);
    const [outcome] = await this.streams.finish([lease]);
    if (outcome !== 'done') throw new NotOwnerError(stream);
  }

  /** Shuts down finishing everything: doneStream on every owned stream, then this consumer leaves the fleet. */
  async done(): Promise<void> {
    if (!(await this.beginStop())) return;
    try {
      await this.reader?.stop();
      if (this.session.isValid()) {
        const finishAll = async (): Promise<void> => {
          await this.streams.finish(this.streams.all());
          await this.session.retire();
        };
        await withTimeout(finishAll(), this.shutdownTimeoutMs());
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
      this.streams.giveUpAll(new RedisStreamClientError('The client was closed'));
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

  private async start(): Promise<void> {
    const node = await this.link.connect();
    const database = await withTimeout(currentDatabase(node), CONNECT_TIMEOUT_MS);
    const channel = await ensureExpiredEvents(node, this.options.configureKeyspaceEvents);
    await this.flagOtherMasters();
    this.subscriber = new KeyspaceSubscriber(this.context.keys, database, {
      onSessionExpired: (consumerId) => {
        if (consumerId === this.context.consumerId) this.session.heartbeatSoon();
        else this.takeover.handle(consumerId);
      },
      onResubscribed: () => void this.resync().catch((error: unknown) => this.report(error)),
      onError: (error) => this.report(error),
    });
    await this.subscriber.start(node, channel ? [channel] : ['keyspace', 'keyevent']);
    if (!channel) await this.subscriber.probe(node, this.context.consumerId);
    await createGroup(this.context);
    this.sessionConnection = await openConnection(node, (error) => this.report(error));
    this.session.useConnection(this.sessionConnection);
    await this.session.start();
    await this.streams.recover();
    await this.takeover.reconcile();
    // The reader owns its connection from here on: it closes it when it stops, and swaps it when the slot moves.
    this.reader = new LbsReader(this.context, this.session, await openConnection(node, (error) => this.report(error)), {
      onOutcomes: (outcomes) => this.streams.admit(outcomes, false),
      onError: (error) => this.report(error),
      capacity: () => this.options.maxStreams - this.streams.size,
    });
    this.reader.start();
  }

  /** The service's slot is now served by another master (failover, or slot migration): move every connection
   * there. Expiry events and scripts do not follow, so set the flags again and reconcile. */
  private async moved(node: RedisConnection): Promise<void> {
    if (this.state !== 'running') return;
    this.context.log.warn(`The service's hash slot moved to another master; following it`);
    // Raise the fencing counter before anything can be granted there.
    await node.sendCommand(['INCRBY', this.context.keys.token, String(TOKEN_FAILOVER_MARGIN)]);
    // The session first: its heartbeats must reach the new master before the validity window ends.
    const previousSession = this.sessionConnection;
    this.sessionConnection = await openConnection(node, (error) => this.report(error));
    this.session.useConnection(this.sessionConnection);
    this.session.heartbeatSoon();
    await closeConnection(previousSession);
    this.reader?.useConnection(await openConnection(node, (error) => this.report(error)));
    const channel = await ensureExpiredEvents(node, this.options.configureKeyspaceEvents);
    await this.subscriber?.restart(node, channel ? [channel] : undefined);
    await this.flagOtherMasters();
    await this.takeover.reconcile();
  }

  /** On a cluster the flags are per node: set them on every master, so that wherever the service's slot moves
   * (a migration, or a failover to a replica that is promoted later) its expiries are published. Best effort:
   * the slot's own master is the one that matters now, and it was checked strictly. */
  private async flagOtherMasters(): Promise<void> {
    if (!this.options.configureKeyspaceEvents) return;
    await this.link.onOtherMasters((node) => ensureExpiredEvents(node, true));
  }

  /** After the subscriber reconnects: Redis may have restarted (flags and scripts forgotten) and expiry events
   * sent meanwhile are lost, so check the flags again and look for dead peers. */
  private async resync(): Promise<void> {
    if (this.state !== 'running') return;
    const channel = await ensureExpiredEvents(this.context.redis, this.options.configureKeyspaceEvents);
    // A restarted Redis may have other flags now (ours merged into none), so the channel may have changed.
    if (channel && !this.subscriber?.listensOn(channel)) await this.subscriber?.restart(this.link.node, [channel]);
    this.session.heartbeatSoon();
    await this.takeover.reconcile();
  }

  private async beginStop(): Promise<boolean> {
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state !== 'running') return false;
    this.state = 'stopping';
    return true;
  }

  private async shutDown(): Promise<void> {
    this.session.stop();
    this.streams.stop();
    await this.reader?.stop();
    await closeConnection(this.sessionConnection);
    await this.subscriber?.stop();
    await this.link.stop();
    this.streams.giveUpAll(new RedisStreamClientError('The client was closed'));
    this.notifier.stop();
    this.state = 'stopped';
  }

  /** How long done() and close() wait for Redis: past one heartbeat the session has expired anyway. */
  private shutdownTimeoutMs(): number {
    return Math.max(1000, this.options.heartbeatMs);
  }

  private assertRunning(method: string): void {
    if (this.state !== 'running') {
      throw new NotRunningError(`${method}() needs a running client (call init() first; not after done() or close())`);
    }
  }

  private report(error: unknown): void {
    if (!(error instanceof RedisStreamClientError)) {
      // A Redis or socket error: the slot may have moved (cluster), a reply may have been lost.
      this.link.checkSoon();
      if (this.state === 'running') this.streams.checkForStraysSoon();
    }
    this.notifier.report(error);
  }
}
