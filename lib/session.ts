import { nanoid } from 'nanoid';
import type { ClientContext } from './context.js';
import { ConfigError, NotRunningError } from './errors.js';
import type { Sweep } from './failure-detector.js';
import type { EventChannel } from './keyspace-config.js';
import { PROTOCOL_VERSION, sessionKey } from './keys.js';
import type { RedisCommander } from './redis.js';
import { heartbeat, type HeartbeatRequest, type HeartbeatResult } from './scripts/heartbeat.js';
import { register, type MemberRecord, type RegisterRequest, type RegisterResult } from './scripts/register.js';
import { retire, type Retired } from './scripts/retire.js';
import { suspend } from './scripts/suspend.js';
import { ScriptRunner, type ScriptScope } from './scripts/runner.js';
import { ValidityWindow } from './validity.js';

export interface SessionEvents {
  /** The session ended without this consumer giving it up (stall, outage, replaced): every lease is void. */
  onLost(): void;
  /** A new incarnation was registered after a loss: what the old one still holds can be taken back. */
  onRenewed(): void;
  /** A heartbeat extended the session: what it found besides (membership, excess over the fair share). */
  onHeartbeat(result: HeartbeatResult): void;
  /** What the next heartbeat asks of the fair shares (see HeartbeatRequest.sharesSeenAt). */
  sharesSeenAt(): number | undefined;
  onError(error: unknown): void;
}

/** Where each heartbeat's sweep goes, and what says when the next one is due (the failure detector). */
export interface SweepSink {
  swept(sweep: Sweep): void;
  nextSweepIn(periodMs: number): number;
}

/** The session's calls to Redis, as one object: the scripts on the session's own connection, or a stand-in. */
export interface SessionScripts {
  register(request: RegisterRequest): Promise<RegisterResult>;
  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult>;
  suspend(nonce: string, graceMs: number, member: MemberRecord): Promise<boolean>;
  retire(nonce: string): Promise<Retired>;
  /** Whether the session key still exists (touching it makes Redis expire it once it is due). */
  exists(): Promise<boolean>;
}

/** The session's scripts on `connection`. */
export function sessionScripts(connection: RedisCommander, scope: ScriptScope): SessionScripts {
  const runner = new ScriptRunner(connection);
  const key = sessionKey(scope.keys, scope.consumerId);
  return {
    register: (request) => register(runner, scope, request),
    heartbeat: (request) => heartbeat(runner, scope, request),
    suspend: (nonce, graceMs, member) => suspend(runner, scope, { nonce, graceMs, member }),
    retire: (nonce) => retire(runner, scope, nonce),
    exists: async () => Number(await connection.sendCommand(['EXISTS', key])) === 1,
  };
}

/**
 * `stopped`: not started, or stopped. `starting`: registering the first incarnation. `live`: an incarnation is
 * registered and its validity window runs. `lost`: the incarnation ended without being given up; a new one is
 * being registered.
 */
export type SessionState = 'stopped' | 'starting' | 'live' | 'lost';

/** One registered life of this consumer's session: what a grant, a claim or a take-back was made for. */
export interface Incarnation {
  readonly nonce: string;
  /** Still this consumer's live incarnation, within its validity window: a reply made for it may be acted on. */
  isCurrent(): boolean;
}

/** The service runs a protocol this consumer does not understand. */
function protocolError(version: number): ConfigError {
  return new ConfigError(
    `This service's consumers run protocol version ${version}, later than this redis-stream-client's (${PROTOCOL_VERSION}): upgrade it (see docs/operations.md, "Upgrading a fleet")`,
    'protocol',
  );
}

/** Reporting an unclaimed stream of a dead peer again after this many heartbeats. */
const RECHECK_HEARTBEATS = 5;
/** Most overdue peers one heartbeat inspects. */
const SWEEP_LIMIT = 100;
/** How long start() waits between attempts while another incarnation holds the id (ms, at most). */
const REGISTER_RETRY_MS = 250;
/** Most touches of a retired session key (2 ms apart) waiting for Redis to expire it. */
const TOUCH_ATTEMPTS = 20;

/**
 * This consumer's session: one key holding the nonce of its live incarnation, extended by one script call about
 * every heartbeatMs / 3 whatever the number of streams owned. The same call sweeps peers past their deadline (the
 * failure detector says when the next is due). Validity is judged by this process's own clock, on a timer: a reply
 * that never comes (outage) or comes late (stall) cannot keep a lease alive.
 */
export class Session {
  private state: SessionState = 'stopped';
  private nonce = nanoid();
  /** Wall-clock time (Date.now()) of the last register or heartbeat that extended the session. */
  private lastExtendedAt: number | undefined;
  /** The nonce a registration may replace: this process's own previous incarnation, or '' for none. */
  private replacedNonce = '';
  /** Whether a register call of this process has succeeded (its nonce may be in Redis). */
  private registered = false;
  private conflictReported = false;
  /** Changes with every stop(), so that a start() still waiting for Redis then gives up. */
  private generation = 0;
  private readonly validity: ValidityWindow;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private validityTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Ends start()'s wait for a live holder early (stop()). */
  private endPause: (() => void) | undefined;
  /** Where peers hear of a session's end: the sweep announces dead peers there too. */
  private announceChannel: EventChannel | '' = '';
  private database = 0;
  private readonly heartbeatMs: number;

  constructor(
    private readonly context: Pick<ClientContext, 'consumerId' | 'options' | 'log' | 'metrics'>,
    /** On a connection of the session's own: a heartbeat must never wait behind other traffic (a claim storm, say)
     * on a shared connection, or a busy consumer would lose its session. */
    private scripts: SessionScripts,
    private readonly sweeps: SweepSink,
    private readonly events: SessionEvents,
    /** What the fleet is told of this consumer when an incarnation registers. */
    private readonly member: () => MemberRecord,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.heartbeatMs = context.options.heartbeatMs;
    this.validity = new ValidityWindow(this.heartbeatMs, now);
  }

  /** Sends the session's calls through these from now on (the connection moved). */
  use(scripts: SessionScripts): void {
    this.scripts = scripts;
  }

  /** Announce peers the sweep finds dead on this channel of this database (where the consumers listen). */
  announceOn(channel: EventChannel | '', database = this.database): void {
    this.announceChannel = channel;
    this.database = database;
  }

  get current(): SessionState {
    return this.state;
  }

  /** The incarnation registered now (or being registered). */
  incarnation(): Incarnation {
    const nonce = this.nonce;
    return { nonce, isCurrent: () => nonce === this.nonce && this.isValid() };
  }

  /** For health checks: whether the session is valid, for how much longer without a heartbeat, and when one last
   * extended it (wall clock). */
  health(): { valid: boolean; validityMsLeft: number; lastHeartbeatAt: number | undefined } {
    const valid = this.isValid();
    return { valid, validityMsLeft: valid ? Math.floor(this.validity.remainingMs()) : 0, lastHeartbeatAt: this.lastExtendedAt };
  }

  /** True while this consumer may act on its leases: live, and within the validity window by its own clock. */
  isValid(): boolean {
    return this.state === 'live' && this.validity.isValid();
  }

  /**
   * Registers the first incarnation. A live session under the same consumer id (a previous process that has
   * not expired yet) is waited out for up to two heartbeats; after that the id is taken by a live consumer.
   * Resolves with whether the previous process under this id failed alone (what it held then counts one more
   * delivery when taken back).
   */
  async start(): Promise<{ previousFailed: boolean }> {
    const generation = this.generation;
    const giveUpAt = this.now() + 2 * this.heartbeatMs + 1000;
    this.become('starting');
    // Started again after a failed init(): the incarnation that attempt may have registered is this process's own.
    this.replacedNonce = this.registered ? this.nonce : '';
    for (;;) {
      const sentAt = this.now();
      const result = await this.register();
      if (generation !== this.generation) throw new NotRunningError('The session was stopped while it started');
      if (result.registered) {
        this.extended(sentAt);
        this.become('live');
        return { previousFailed: result.previousFailed };
      }
      if ('protocol' in result) {
        this.become('stopped');
        throw protocolError(result.protocol);
      }
      if (this.now() + result.holderLeftMs > giveUpAt) {
        this.become('stopped');
        throw new ConfigError(
          `consumerId "${this.context.consumerId}" is in use by a live consumer: give each client its own \`consumerId\``,
          'consumerId',
        );
      }
      await this.pause(Math.min(result.holderLeftMs + 3, REGISTER_RETRY_MS));
      if (generation !== this.generation) throw new NotRunningError('The session was stopped while it started');
    }
  }

  /** Waits `ms`, or less when stop() comes first. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.endPause = undefined;
        resolve();
      }, ms);
      this.endPause = () => {
        clearTimeout(timer);
        this.endPause = undefined;
        resolve();
      };
    });
  }

  /** Runs a heartbeat now (a peer's session may have ended, or this one's). */
  heartbeatSoon(): void {
    if (this.state === 'live' || this.state === 'lost') this.schedule(0);
  }

  stop(): void {
    this.generation++;
    this.endPause?.();
    this.become('stopped');
  }

  /** Ends the session keeping this consumer's streams reserved for its next process under the same id for
   * `graceMs` (close({ restart: true })). */
  async suspend(graceMs: number): Promise<void> {
    this.stop();
    await this.inFlight;
    await this.scripts.suspend(this.nonce, graceMs, this.member());
  }

  /** Ends the session for good: removes this consumer from the fleet, or, with streams still pending under it,
   * ends the session now so that peers take them over at once. */
  async retire(): Promise<Retired> {
    this.stop();
    await this.inFlight;
    const retired = await this.scripts.retire(this.nonce);
    // The key now expires in 1 ms; touching it after that makes Redis expire it and publish the event now.
    if (retired === 'expiring') await this.touchAfterExpiry();
    return retired;
  }

  /**
   * The one place where the state changes. Entering `live` arms the validity timer and the heartbeat; leaving it
   * for `lost` reports the loss, and coming back from `lost` reports the renewal; `stopped` clears every timer.
   */
  private become(next: SessionState): void {
    const previous = this.state;
    this.state = next;
    if (next === 'stopped') {
      clearTimeout(this.heartbeatTimer);
      clearTimeout(this.validityTimer);
      return;
    }
    if (next === 'live') {
      this.armValidityTimer();
      if (previous === 'starting') this.schedule(0);
      if (previous === 'lost') {
        this.context.log.warn('Session renewed after a loss: taking back what this consumer still holds');
        this.events.onRenewed();
      }
    }
    if (next === 'lost' && previous === 'live') {
      this.context.log.warn('Session lost: no heartbeat renewed it within its validity window; its streams are disowned', { heartbeatMs: this.heartbeatMs });
      this.validity.invalidate();
      clearTimeout(this.validityTimer);
      this.events.onLost();
      this.schedule(0);
    }
  }

  /** The validity window has ended by this process's clock (the timer fired, perhaps late after a stall). */
  private checkValidity(): void {
    if (this.state === 'live' && !this.validity.isValid()) this.become('lost');
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
      if (!(await this.scripts.exists())) return;
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => void this.tick(), Math.max(0, delayMs));
    this.heartbeatTimer.unref();
  }

  private armValidityTimer(): void {
    clearTimeout(this.validityTimer);
    this.validityTimer = setTimeout(() => this.checkValidity(), this.validity.remainingMs() + 1);
    this.validityTimer.unref();
  }

  /** One heartbeat (live) or one attempt at a new incarnation (lost), one at a time, then the next is scheduled. */
  private async tick(): Promise<void> {
    if (this.inFlight || (this.state !== 'live' && this.state !== 'lost')) return;
    this.checkValidity();
    const before = this.state;
    this.inFlight = (before === 'lost' ? this.renew() : this.heartbeat()).catch((error: unknown) => this.events.onError(error));
    await this.inFlight;
    this.inFlight = undefined;
    if (this.state !== 'live' && this.state !== 'lost') return;
    // Just lost: a new incarnation at once. Otherwise the next heartbeat, or renewal attempt, when a sweep is due.
    this.schedule(before === 'live' && this.state === 'lost' ? 0 : this.sweeps.nextSweepIn(this.heartbeatMs / 3));
  }

  private async heartbeat(): Promise<void> {
    const nonce = this.nonce;
    const sentAt = this.now();
    const result = await this.scripts.heartbeat({
      nonce,
      recheckMs: RECHECK_HEARTBEATS * this.heartbeatMs,
      sweepLimit: SWEEP_LIMIT,
      announceOn: this.announceChannel,
      database: this.database,
      sharesSeenAt: this.events.sharesSeenAt(),
    });
    this.sweeps.swept({ ...result, sentAt, receivedAt: this.now() });
    if (this.state !== 'live' || nonce !== this.nonce) return;
    if (result.extended) {
      const receivedAt = this.now();
      this.context.metrics.heartbeat(receivedAt - sentAt, this.validity.remainingMs());
      this.extended(sentAt);
      this.armValidityTimer();
      this.events.onHeartbeat(result);
    } else {
      this.become('lost');
    }
  }

  /** After a loss: a new incarnation with a new nonce, replacing only this process's own previous one. */
  private async renew(): Promise<void> {
    if (this.replacedNonce === '') {
      this.replacedNonce = this.nonce;
      this.nonce = nanoid();
    }
    const sentAt = this.now();
    const result = await this.register();
    if (this.state !== 'lost') return;
    if (!result.registered) {
      if (!this.conflictReported) {
        this.conflictReported = true;
        this.events.onError(
          'protocol' in result
            ? protocolError(result.protocol)
            : new ConfigError(`consumerId "${this.context.consumerId}" was taken over by another live consumer; retrying`, 'consumerId'),
        );
      }
      return;
    }
    this.conflictReported = false;
    this.extended(sentAt);
    this.become('live');
  }

  /** A register or heartbeat sent at `sentAt` extended the session. */
  private extended(sentAt: number): void {
    this.validity.extended(sentAt);
    this.lastExtendedAt = Date.now();
  }

  private async register(): Promise<RegisterResult> {
    const result = await this.scripts.register({ nonce: this.nonce, replaces: this.replacedNonce, member: this.member() });
    if (result.registered) {
      this.registered = true;
      this.replacedNonce = '';
    }
    return result;
  }
}
