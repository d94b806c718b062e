import { nanoid } from 'nanoid';
import type { ClientContext } from './context.js';
import { ConfigError, NotRunningError } from './errors.js';
import { sessionKey } from './keys.js';
import type { EventChannel } from './keyspace-config.js';
import type { RedisCommander } from './redis.js';
import { heartbeat } from './scripts/heartbeat.js';
import { register } from './scripts/register.js';
import { release } from './scripts/release.js';
import { retire } from './scripts/retire.js';
import { ScriptRunner } from './scripts/runner.js';
import { ValidityWindow } from './validity.js';

export interface SessionEvents {
  /** The session ended without this consumer giving it up (stall, outage, replaced): every lease is void. */
  onLost(): void;
  /** A new incarnation was registered after a loss: what the old one still holds can be taken back. */
  onRenewed(): void;
  /** Peers whose sessions expired and who still hold streams. */
  onDeadPeers(consumerIds: string[]): void;
  onError(error: unknown): void;
}


/** Reporting an unclaimed stream of a dead peer again after this many heartbeats. */
const RECHECK_HEARTBEATS = 5;
/** Most overdue peers one heartbeat inspects. */
const SWEEP_LIMIT = 100;
/** Wake this long after a peer's deadline, so that its key has surely expired by Redis's clock. */
const DEADLINE_MARGIN_MS = 3;
/** Most touches of a released session key (2 ms apart) waiting for Redis to expire it. */
const TOUCH_ATTEMPTS = 20;

/**
 * This consumer's session: one key holding the nonce of its live incarnation, extended by one script call about
 * every heartbeatMs / 3 whatever the number of streams owned. The same call sweeps peers past their deadline, and
 * the next call is brought forward to the earliest peer deadline, so a dead peer is noticed about when its
 * session ends. Validity is judged by this process's own clock, on a timer: a reply that never comes (outage)
 * or comes late (stall) cannot keep a lease alive.
 */
export class Session {
  private nonce = nanoid();
  private replacedNonce = '';
  private lost = false;
  private stopped = true;
  private readonly validity: ValidityWindow;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private validityTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Server time minus local monotonic time, from the last heartbeat. */
  private clockOffset = 0;
  private nextPeerDeadline = Number.POSITIVE_INFINITY;
  private conflictReported = false;
  /** Changes with every stop(), so that a start() still waiting for Redis then gives up. */
  private generation = 0;
  /** Whether a register call of this process has succeeded (its nonce may be in Redis). */
  private registered = false;
  /** Where peers hear of a session's end: the sweep announces dead peers there too. */
  private announceChannel: EventChannel | '' = '';
  private database = 0;

  private readonly heartbeatMs: number;
  private readonly key: string;
  /** A connection of the session's own: a heartbeat must never wait behind other traffic (a claim storm, say)
   * on a shared connection, or a busy consumer would lose its session. */
  private connection: RedisCommander;
  private scripts: ScriptRunner;

  constructor(
    private readonly context: ClientContext,
    private readonly events: SessionEvents,
  ) {
    this.heartbeatMs = context.options.heartbeatMs;
    this.key = sessionKey(context.keys, context.consumerId);
    this.validity = new ValidityWindow(this.heartbeatMs);
    this.connection = context.redis;
    this.scripts = context.scripts;
  }

  /** Sends the session's calls on this connection from now on. */
  useConnection(connection: RedisCommander): void {
    this.connection = connection;
    this.scripts = new ScriptRunner(connection);
  }

  /** Announce peers the sweep finds dead on this channel of this database (where the consumers listen). */
  announceOn(channel: EventChannel | '', database = this.database): void {
    this.announceChannel = channel;
    this.database = database;
  }

  get currentNonce(): string {
    return this.nonce;
  }

  /** Registers the first incarnation. A live session under the same consumer id (a previous process that has
   * not expired yet) is waited out for up to two heartbeats; after that the id is taken by a live consumer.
   * Resolves with whether the previous process under this id failed alone (what it held then counts one more
   * delivery when taken back). */
  async start(): Promise<{ previousFailed: boolean }> {
    const generation = this.generation;
    const giveUpAt = performance.now() + 2 * this.heartbeatMs + 1000;
    let previousFailed = false;
    // Started again after a failed init(): the incarnation that attempt may have registered is this process's own.
    this.replacedNonce = this.registered ? this.nonce : '';
    for (;;) {
      const sentAt = performance.now();
      const registered = await this.register();
      if (generation !== this.generation) throw new NotRunningError('The session was stopped while it started');
      if (registered.waitMs === 0) {
        this.validity.extended(sentAt);
        previousFailed = registered.previousFailed;
        break;
      }
      const { waitMs } = registered;
      if (performance.now() + waitMs > giveUpAt) {
        throw new ConfigError(
          `consumerId "${this.context.consumerId}" is in use by a live consumer: give each client its own \`consumerId\``,
          'consumerId',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs + DEADLINE_MARGIN_MS, 250)));
    }
    this.replacedNonce = '';
    this.lost = false;
    this.stopped = false;
    this.armValidityTimer();
    this.schedule(0);
    return { previousFailed };
  }

  /** True while this consumer may act on its leases. Ends the session first if its window has passed, so
   * that a process waking from a stall learns of the loss before it handles anything else. */
  isValid(): boolean {
    if (!this.lost && !this.stopped && !this.validity.isValid()) this.lose();
    return !this.lost && !this.stopped;
  }

  /** Runs a heartbeat now (a peer's session may have ended). */
  heartbeatSoon(): void {
    if (!this.stopped) this.schedule(0);
  }

  stop(): void {
    this.generation++;
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.validityTimer);
  }

  /** Ends the session now so that peers take this consumer's streams over at once. */
  async release(): Promise<void> {
    this.stop();
    await this.inFlight;
    // The key now expires in 1 ms; touching it after that makes Redis expire it and publish the event now.
    if (await release(this.scripts, this.context, this.nonce)) await this.touchAfterExpiry();
  }

  /** Removes this consumer from the fleet; returns false when streams were still pending under it (its session
   * then ends as with release()). */
  async retire(): Promise<boolean> {
    this.stop();
    await this.inFlight;
    if (await retire(this.scripts, this.context, this.nonce)) return true;
    await this.touchAfterExpiry();
    return false;
  }

  /**
   * Touches the session key once it is due, until Redis has expired it: only an expiry publishes the event peers
   * act on at once, and a key expires on access only after its deadline's millisecond has passed by Redis's clock,
   * which a timer of this process can beat (about 1 touch in 100 after a single 2 ms wait). Bounded, in case the key
   * was not set to expire (another incarnation holds it).
   */
  private async touchAfterExpiry(): Promise<void> {
    for (let attempt = 0; attempt < TOUCH_ATTEMPTS; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (Number(await this.connection.sendCommand(['EXISTS', this.key])) === 0) return;
    }
  }

  private lose(): void {
    this.lost = true;
    this.validity.invalidate();
    clearTimeout(this.validityTimer);
    this.events.onLost();
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.heartbeatTimer.unref();
  }

  private armValidityTimer(): void {
    clearTimeout(this.validityTimer);
    this.validityTimer = setTimeout(() => this.isValid(), this.validity.remainingMs() + 1);
    this.validityTimer.unref();
  }

  private async tick(): Promise<void> {
    if (this.inFlight || this.stopped) return;
    this.inFlight = (this.lost ? this.renew() : this.heartbeat()).catch((error: unknown) => this.events.onError(error));
    await this.inFlight;
    this.inFlight = undefined;
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const period = this.heartbeatMs / 3;
    const untilPeerDeadline = this.nextPeerDeadline - this.clockOffset - performance.now() + DEADLINE_MARGIN_MS;
    this.schedule(Math.max(5, Math.min(period, untilPeerDeadline)));
  }

  private async heartbeat(): Promise<void> {
    const nonce = this.nonce;
    const sentAt = performance.now();
    const { extended, serverNow, nextPeerDeadline, deadPeers } = await heartbeat(this.scripts, this.context, {
      nonce,
      recheckMs: RECHECK_HEARTBEATS * this.heartbeatMs,
      sweepLimit: SWEEP_LIMIT,
      announceOn: this.announceChannel,
      database: this.database,
    });
    const receivedAt = performance.now();
    this.clockOffset = serverNow - (sentAt + receivedAt) / 2;
    this.nextPeerDeadline = nextPeerDeadline ?? Number.POSITIVE_INFINITY;
    if (this.lost || nonce !== this.nonce) return;
    if (extended) {
      this.validity.extended(sentAt);
      this.armValidityTimer();
    } else {
      this.lose();
    }
    if (deadPeers.length > 0) this.events.onDeadPeers(deadPeers);
  }

  /** After a loss: a new incarnation with a new nonce, replacing only this process's own previous one. */
  private async renew(): Promise<void> {
    if (this.replacedNonce === '') {
      this.replacedNonce = this.nonce;
      this.nonce = nanoid();
    }
    const sentAt = performance.now();
    const { waitMs } = await this.register();
    if (waitMs > 0) {
      if (!this.conflictReported) {
        this.conflictReported = true;
        this.events.onError(
          new ConfigError(`consumerId "${this.context.consumerId}" was taken over by another live consumer; retrying`, 'consumerId'),
        );
      }
      return;
    }
    this.replacedNonce = '';
    this.conflictReported = false;
    this.lost = false;
    this.validity.extended(sentAt);
    this.armValidityTimer();
    this.context.log.info('Session renewed after a loss: taking back what this consumer still holds');
    this.events.onRenewed();
  }

  /** waitMs 0 when registered, else how long the live holder's session has left (ms). */
  private async register(): Promise<{ waitMs: number; previousFailed: boolean }> {
    const result = await register(this.scripts, this.context, { nonce: this.nonce, replaces: this.replacedNonce });
    if (!result.registered) return { waitMs: Math.max(1, result.holderLeftMs), previousFailed: false };
    this.registered = true;
    return { waitMs: 0, previousFailed: result.previousFailed };
  }
}
