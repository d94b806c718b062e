import { ClientMetrics } from '../../lib/metrics.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ClientLog } from '../../lib/client-log.js';
import { ConfigError, NotRunningError } from '../../lib/errors.js';
import type { Sweep } from '../../lib/failure-detector.js';
import { parseOptions } from '../../lib/options.js';
import type { HeartbeatRequest, HeartbeatResult } from '../../lib/scripts/heartbeat.js';
import type { RegisterRequest, RegisterResult } from '../../lib/scripts/register.js';
import type { Retired } from '../../lib/scripts/retire.js';
import { Session, type SessionScripts } from '../../lib/session.js';
import { deferred, isSettled, never, silentLogger } from '../support/unit-fakes.js';

/** Heartbeats every 1000 ms; a call sent at t keeps the session valid until t + 2968 (drift: 1% + 2 ms). */
const HEARTBEAT_MS = 3000;
const PERIOD_MS = HEARTBEAT_MS / 3;
const WINDOW_MS = HEARTBEAT_MS - (HEARTBEAT_MS / 100 + 2);
/** When the validity timer fires for a session last extended at 0: 1 ms past the end of its window. */
const LOST_AT = WINDOW_MS + 1;
/** What "at once" takes on a timer: setTimeout(fn, 0) runs 1 ms later, in Node as with the fake timers. */
const NEXT_TURN_MS = 1;

const REGISTERED: RegisterResult = { registered: true, serverNow: 1_700_000_000_000, previousFailed: false };
const EXTENDED: HeartbeatResult = {
  extended: true,
  serverNow: 1_700_000_000_000,
  nextPeerDeadline: undefined,
  membership: 1,
  excess: 0,
  deadPeers: [],
};
const NOT_EXTENDED: HeartbeatResult = { ...EXTENDED, extended: false };

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

/** A reply `ms` after the call, on the fake timers. */
function after<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

/** Replies in turn, the last one for every call after. */
function inTurn<T>(...replies: Array<() => Promise<T>>): () => Promise<T> {
  let next = 0;
  return () => replies[Math.min(next++, replies.length - 1)]!();
}

/** The session's scripts, answering as each `on…` says (by default at once, with success); every call is recorded
 * with the time it went out by `clock`. */
class FakeSessionScripts implements SessionScripts {
  readonly calls: Array<{ script: string; nonce: string; replaces?: string; request?: HeartbeatRequest; at: number }> = [];
  onRegister: (request: RegisterRequest) => Promise<RegisterResult> = () => Promise.resolve(REGISTERED);
  onHeartbeat: (request: HeartbeatRequest) => Promise<HeartbeatResult> = () => Promise.resolve(EXTENDED);
  onRetire: () => Promise<Retired> = () => Promise.resolve('removed');
  onExists: () => Promise<boolean> = () => Promise.resolve(false);

  constructor(private readonly clock: () => number) {}

  register(request: RegisterRequest): Promise<RegisterResult> {
    this.calls.push({ script: 'register', nonce: request.nonce, replaces: request.replaces, at: this.clock() });
    return this.onRegister(request);
  }

  heartbeat(request: HeartbeatRequest): Promise<HeartbeatResult> {
    this.calls.push({ script: 'heartbeat', nonce: request.nonce, request, at: this.clock() });
    return this.onHeartbeat(request);
  }

  retire(nonce: string): Promise<Retired> {
    this.calls.push({ script: 'retire', nonce, at: this.clock() });
    return this.onRetire();
  }

  suspend(nonce: string): Promise<boolean> {
    this.calls.push({ script: 'suspend', nonce, at: this.clock() });
    return Promise.resolve(true);
  }

  exists(): Promise<boolean> {
    this.calls.push({ script: 'exists', nonce: '', at: this.clock() });
    return this.onExists();
  }

  of(script: string) {
    return this.calls.filter((call) => call.script === script);
  }

  registers(): Array<{ nonce: string; replaces: string | undefined }> {
    return this.of('register').map(({ nonce, replaces }) => ({ nonce, replaces }));
  }
}

/**
 * A session of consumer `me` on fake scripts, a SweepSink that says the period is due, and fake timers; its clock
 * is performance.now(), which the fake timers move, plus `stall(ms)`: time that passes while no timer runs (a
 * blocked event loop, SIGSTOP).
 */
function setUp() {
  const start = performance.now();
  let stalledMs = 0;
  const scripts = new FakeSessionScripts(() => elapsed());
  const sweeps: Sweep[] = [];
  const sink = { swept: (sweep: Sweep) => void sweeps.push(sweep), nextSweepIn: vi.fn((periodMs: number) => periodMs) };
  /** onLost and onRenewed, in the order they came, each with its time (ms since setUp, by the session clock). */
  const story: string[] = [];
  const errors: unknown[] = [];
  const context = {
    consumerId: 'me',
    options: parseOptions({ serviceName: 'orders', consumerId: 'me', heartbeatMs: HEARTBEAT_MS }),
    log: new ClientLog(silentLogger, 'orders', 'me'),
    metrics: new ClientMetrics(),
  };
  const session = new Session(
    context,
    scripts,
    sink,
    {
      onLost: () => void story.push(`lost@${elapsed()}`),
      onRenewed: () => void story.push(`renewed@${elapsed()}`),
      onHeartbeat: () => undefined,
      sharesSeenAt: () => 4,
      onError: (error) => void errors.push(error),
    },
    () => ({ weight: 1, auto: false, draining: false }),
    () => performance.now() + stalledMs,
  );
  function elapsed(): number {
    return performance.now() + stalledMs - start;
  }
  return {
    session,
    scripts,
    sink,
    sweeps,
    story,
    errors,
    elapsed,
    /** When each heartbeat went out (ms since setUp, by the session's clock). */
    heartbeatTimes: () => scripts.of('heartbeat').map((call) => call.at),
    stall: (ms: number) => void (stalledMs += ms),
    /** Moves fake time to `ms` after setUp, running the timers due on the way. */
    advanceTo: (ms: number) => vi.advanceTimersByTimeAsync(ms - (performance.now() - start)),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Session.start()', () => {
  it('registers the first incarnation, goes live and heartbeats at once', async () => {
    const { session, scripts, heartbeatTimes } = setUp();
    expect(session.current).toBe('stopped');
    expect(session.isValid()).toBe(false);
    scripts.onRegister = () => Promise.resolve({ ...REGISTERED, previousFailed: true });

    await expect(session.start()).resolves.toEqual({ previousFailed: true });

    expect(session.current).toBe('live');
    expect(session.isValid()).toBe(true);
    expect(scripts.registers()).toEqual([{ nonce: session.incarnation().nonce, replaces: '' }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(heartbeatTimes()).toEqual([0]);
    expect(scripts.of('heartbeat')[0]!.nonce).toBe(session.incarnation().nonce);
  });

  it('waits out a previous process whose session is ending, then registers', async () => {
    const { session, scripts, elapsed } = setUp();
    // The previous process under this id died: its session key expires 1000 ms from now.
    scripts.onRegister = () => {
      const left = 1000 - elapsed();
      return Promise.resolve(left > 0 ? { registered: false, holderLeftMs: left } : REGISTERED);
    };
    const started = session.start();
    await vi.advanceTimersByTimeAsync(1500);

    await expect(started).resolves.toEqual({ previousFailed: false });
    expect(session.current).toBe('live');
    const attempts = scripts.of('register').map((call) => call.at);
    expect(attempts.at(-1)).toBeGreaterThanOrEqual(1000);
    // It looks again at least every 250 ms, and not long after the holder's session ends.
    expect(attempts.at(-1)).toBeLessThanOrEqual(1000 + 3);
    for (let i = 1; i < attempts.length; i++) expect(attempts[i]! - attempts[i - 1]!).toBeLessThanOrEqual(250);
  });

  it('rejects with a ConfigError naming consumerId when a live consumer keeps the id for about two heartbeats', async () => {
    const { session, scripts, elapsed } = setUp();
    // A live holder: its heartbeats keep its session a whole heartbeatMs from ending.
    scripts.onRegister = () => Promise.resolve({ registered: false, holderLeftMs: HEARTBEAT_MS });
    let rejectedAt = -1;
    const started = session.start().catch((error: unknown) => {
      rejectedAt = elapsed();
      throw error;
    });
    started.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);

    const error = await started.then(() => undefined, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ setting: 'consumerId' });
    expect((error as Error).message).toContain('"me"');
    // It gave the holder at least a heartbeat to go away, and never more than two heartbeats and a second.
    expect(rejectedAt).toBeGreaterThanOrEqual(HEARTBEAT_MS);
    expect(rejectedAt).toBeLessThanOrEqual(2 * HEARTBEAT_MS + 1000);
    expect(scripts.of('register').length).toBeGreaterThan(1);
    expect(session.current).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() while the register call is out makes start() reject with NotRunningError and leaves no timer', async () => {
    const { session, scripts } = setUp();
    const reply = deferred<RegisterResult>();
    scripts.onRegister = () => reply.promise;
    const started = session.start();
    started.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);

    session.stop();
    reply.resolve(REGISTERED);

    await expect(started).rejects.toBeInstanceOf(NotRunningError);
    expect(session.current).toBe('stopped');
    expect(session.isValid()).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_MS);
    expect(scripts.of('heartbeat')).toEqual([]);
  });

  it('stop() while start() waits out a live holder makes start() reject at once, with no more register calls and no timer', async () => {
    const { session, scripts } = setUp();
    scripts.onRegister = () => Promise.resolve({ registered: false, holderLeftMs: HEARTBEAT_MS });
    const started = session.start();
    started.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);
    expect(scripts.of('register')).toHaveLength(1);

    session.stop();

    expect(await isSettled(started)).toBe(true);
    await expect(started).rejects.toBeInstanceOf(NotRunningError);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * HEARTBEAT_MS);
    expect(scripts.of('register')).toHaveLength(1);
  });

  it('started again after a stop, replaces its own earlier incarnation (replaces = the previous nonce)', async () => {
    const { session, scripts } = setUp();
    await session.start();
    const first = session.incarnation().nonce;
    session.stop();

    await session.start();

    expect(scripts.registers()).toEqual([
      { nonce: first, replaces: '' },
      { nonce: session.incarnation().nonce, replaces: first },
    ]);
    expect(session.current).toBe('live');
  });

  it('started again after a start that was refused (the id was taken), replaces nothing', async () => {
    const { session, scripts } = setUp();
    scripts.onRegister = () => Promise.resolve({ registered: false, holderLeftMs: HEARTBEAT_MS });
    const refusedStart = session.start();
    refusedStart.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);
    await expect(refusedStart).rejects.toBeInstanceOf(ConfigError);
    scripts.onRegister = () => Promise.resolve(REGISTERED); // the other process has gone

    await session.start();

    expect(new Set(scripts.registers().map((request) => request.replaces))).toEqual(new Set(['']));
  });
});

describe('Session heartbeats', () => {
  it('heartbeat every heartbeatMs / 3, one call at a time, carrying the nonce and where to announce dead peers', async () => {
    const { session, scripts, sink, heartbeatTimes, advanceTo } = setUp();
    session.announceOn('keyspace', 3);
    await session.start();
    await advanceTo(3500);

    expect(heartbeatTimes()).toEqual([0, PERIOD_MS, 2 * PERIOD_MS, 3 * PERIOD_MS]);
    expect(sink.nextSweepIn).toHaveBeenCalledWith(PERIOD_MS);
    expect(scripts.of('heartbeat')[0]!.request).toEqual({
      nonce: session.incarnation().nonce,
      recheckMs: 5 * HEARTBEAT_MS,
      sweepLimit: 100,
      announceOn: 'keyspace',
      database: 3,
      sharesSeenAt: 4,
    });
  });

  it('come sooner when the SweepSink says a sweep is due', async () => {
    const { session, sink, heartbeatTimes, advanceTo } = setUp();
    sink.nextSweepIn.mockImplementation(() => 40);
    await session.start();
    await advanceTo(130);

    expect(heartbeatTimes()).toEqual([0, 40, 80, 120]);
  });

  it('go out one at a time: the next follows a slow reply by the period, and heartbeatSoon() meanwhile adds no call', async () => {
    const { session, scripts, heartbeatTimes, advanceTo } = setUp();
    scripts.onHeartbeat = () => after(600, EXTENDED);
    await session.start();
    await advanceTo(300);
    session.heartbeatSoon();
    await advanceTo(1700);

    expect(heartbeatTimes()).toEqual([0, 600 + PERIOD_MS]);
  });

  it('heartbeatSoon() runs a heartbeat now when live, and nothing when stopped', async () => {
    const { session, heartbeatTimes, advanceTo } = setUp();
    session.heartbeatSoon();
    expect(vi.getTimerCount()).toBe(0);
    await session.start();
    await advanceTo(250);
    session.heartbeatSoon();
    await advanceTo(1300);

    expect(heartbeatTimes()).toEqual([0, 250, 250 + PERIOD_MS]);
  });

  it('hand each sweep to the SweepSink with the times the call went out and its reply came, by the session clock', async () => {
    const { session, scripts, sweeps, advanceTo } = setUp();
    const reply: HeartbeatResult = { ...EXTENDED, serverNow: 1_700_000_000_500, nextPeerDeadline: 1_700_000_000_900, deadPeers: ['peer-b'] };
    scripts.onHeartbeat = () => after(200, reply);
    await session.start();
    const sentAt = performance.now();
    await advanceTo(200);

    expect(sweeps).toEqual([{ ...reply, sentAt, receivedAt: sentAt + 200 }]);
  });

  it('extend the validity window from the time a successful heartbeat was sent, not from its reply', async () => {
    const { session, scripts, story, heartbeatTimes, advanceTo } = setUp();
    // Replies come 500 ms late; the third never comes.
    scripts.onHeartbeat = inTurn(() => after(500, EXTENDED), () => after(500, EXTENDED), never<HeartbeatResult>);
    await session.start();
    await advanceTo(3000);
    expect(heartbeatTimes()).toEqual([0, 1500, 3000]);

    const end = 1500 + WINDOW_MS; // from the send time of the last successful heartbeat
    await advanceTo(end - 1);
    expect(session.isValid()).toBe(true);
    await advanceTo(end);
    expect(session.isValid()).toBe(false);
    await advanceTo(end + 1);
    expect(story).toEqual([`lost@${end + 1}`]);
  });

  it('a heartbeat that fails (a Redis error) is reported and extends nothing: the session is lost when the window ends', async () => {
    const { session, scripts, story, errors, advanceTo } = setUp();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => Promise.reject(refused()));
    await session.start();
    await advanceTo(WINDOW_MS - 1);
    expect(session.isValid()).toBe(true);
    expect(errors.length).toBe(2); // the heartbeats at 1000 and 2000
    expect(errors.every((error) => error instanceof Error && error.message.includes('ECONNREFUSED'))).toBe(true);

    await advanceTo(LOST_AT);
    expect(story).toEqual([`lost@${LOST_AT}`]);
  });

  it('a reply `extended: false` (the key no longer holds this nonce) loses the session at once', async () => {
    const { session, scripts, story, advanceTo } = setUp();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => Promise.resolve(NOT_EXTENDED), () => Promise.resolve(EXTENDED));
    await session.start();
    const first = session.incarnation().nonce;
    await advanceTo(PERIOD_MS + NEXT_TURN_MS);

    expect(story.slice(0, 1)).toEqual([`lost@${PERIOD_MS}`]);
    // A new incarnation is registered at once, replacing the lost one.
    const renewal = scripts.of('register')[1]!;
    expect(renewal.at).toBe(PERIOD_MS + NEXT_TURN_MS);
    expect(renewal.replaces).toBe(first);
    expect(renewal.nonce).not.toBe(first);
  });
});

describe('Session validity', () => {
  it('isValid() changes no state: past the window it returns false while the session stays live until its timer fires', async () => {
    const { session, scripts, story, advanceTo } = setUp();
    scripts.onHeartbeat = never;
    await session.start();
    await advanceTo(WINDOW_MS);

    for (let i = 0; i < 3; i++) expect(session.isValid()).toBe(false);
    expect(session.current).toBe('live');
    expect(story).toEqual([]);

    await advanceTo(LOST_AT);
    expect(session.current).toBe('lost');
    expect(story).toEqual([`lost@${LOST_AT}`]);
  });

  it('a heartbeat whose reply never comes still loses the session on time, by the timer; the renewal follows when the call fails', async () => {
    const { session, scripts, story, advanceTo } = setUp();
    const hung = deferred<HeartbeatResult>();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => hung.promise, () => Promise.resolve(EXTENDED));
    await session.start();
    await advanceTo(WINDOW_MS - 1);
    expect(session.isValid()).toBe(true);
    expect(scripts.of('heartbeat')).toHaveLength(2);

    await advanceTo(LOST_AT);
    expect(story).toEqual([`lost@${LOST_AT}`]);
    expect(session.isValid()).toBe(false);

    // One call at a time: the renewal waits for the hung call, and goes out as soon as it fails.
    await advanceTo(5000);
    expect(scripts.of('register')).toHaveLength(1);
    hung.reject(new Error('Socket closed unexpectedly'));
    await advanceTo(5000 + NEXT_TURN_MS);
    expect(scripts.of('register')).toHaveLength(2);
    expect(scripts.of('register')[1]!.at - 5000).toBeLessThanOrEqual(NEXT_TURN_MS);
    expect(story.map((event) => event.split('@')[0])).toEqual(['lost', 'renewed']);
  });

  it('a successful heartbeat reply that comes after the loss does not revive the lost incarnation', async () => {
    const { session, scripts, story, advanceTo } = setUp();
    const late = deferred<HeartbeatResult>();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => late.promise, () => Promise.resolve(EXTENDED));
    await session.start();
    const lost = session.incarnation();
    scripts.onRegister = () => never(); // the renewal does not get through meanwhile
    await advanceTo(LOST_AT);
    expect(session.current).toBe('lost');

    late.resolve(EXTENDED);
    await advanceTo(WINDOW_MS + 100);

    expect(session.current).toBe('lost');
    expect(session.isValid()).toBe(false);
    expect(lost.isCurrent()).toBe(false);
    expect(story).toEqual([`lost@${LOST_AT}`]);
    expect(scripts.registers()[1]).toEqual({ nonce: session.incarnation().nonce, replaces: lost.nonce });
  });

  it('after a stall past the window, reports the loss before it sends anything', async () => {
    const { session, scripts, story, stall, advanceTo } = setUp();
    await session.start();
    await advanceTo(0);
    const before = scripts.calls.length;

    stall(5000); // the event loop was blocked: no timer ran
    await advanceTo(PERIOD_MS); // the heartbeat timer fires late

    expect(story[0]).toBe(`lost@${PERIOD_MS + 5000}`);
    const sent = scripts.calls.slice(before);
    expect(sent.map((call) => call.script)).toEqual(['register']);
    expect(sent[0]!.nonce).not.toBe(scripts.calls[0]!.nonce);
  });
});

describe('Session loss and renewal', () => {
  /** A session whose heartbeats fail from the second on (Redis unreachable), just before its window ends at
   * WINDOW_MS: the test says what the scripts answer from here on. */
  async function aboutToLose() {
    const parts = setUp();
    parts.scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => Promise.reject(refused()));
    await parts.session.start();
    const first = parts.session.incarnation().nonce;
    await parts.advanceTo(WINDOW_MS - 1);
    expect(parts.story).toEqual([]);
    parts.errors.length = 0;
    return { ...parts, first };
  }

  it('the validity timer reports the loss once, and a renewal goes out at once with a new nonce replacing the old', async () => {
    const { session, scripts, story, first, advanceTo } = await aboutToLose();
    scripts.onRegister = () => Promise.reject(refused()); // Redis still unreachable
    await advanceTo(LOST_AT + NEXT_TURN_MS);

    expect(story).toEqual([`lost@${LOST_AT}`]);
    const renewal = scripts.of('register')[1]!;
    expect(renewal.at).toBe(LOST_AT + NEXT_TURN_MS);
    expect(renewal.nonce).not.toBe(first);
    expect(renewal.replaces).toBe(first);
    expect(session.incarnation().nonce).toBe(renewal.nonce);

    // Retries keep the same new nonce, every heartbeatMs / 3, and the loss is not reported again.
    await advanceTo(renewal.at + 10 * PERIOD_MS);
    expect(story).toEqual([`lost@${LOST_AT}`]);
    const retries = scripts.of('register').slice(1);
    expect(retries).toHaveLength(11);
    for (const retry of retries) expect(retry).toMatchObject({ nonce: renewal.nonce, replaces: first });
    for (let i = 1; i < retries.length; i++) expect(retries[i]!.at - retries[i - 1]!.at).toBe(PERIOD_MS);
  });

  it('onRenewed comes after a successful renewal: valid again under the new nonce, heartbeating with it', async () => {
    const { session, scripts, story, first, advanceTo } = await aboutToLose();
    scripts.onHeartbeat = () => Promise.resolve(EXTENDED); // Redis is back
    await advanceTo(LOST_AT + NEXT_TURN_MS);

    expect(story).toEqual([`lost@${LOST_AT}`, `renewed@${LOST_AT + NEXT_TURN_MS}`]);
    expect(session.current).toBe('live');
    expect(session.isValid()).toBe(true);
    const renewed = session.incarnation().nonce;
    expect(renewed).not.toBe(first);
    await advanceTo(LOST_AT + NEXT_TURN_MS + PERIOD_MS);
    expect(scripts.of('heartbeat').at(-1)).toMatchObject({ nonce: renewed, at: LOST_AT + NEXT_TURN_MS + PERIOD_MS });
  });

  it('a renewal refused because another live process holds the id reports one ConfigError and keeps trying', async () => {
    const { session, scripts, story, errors, first, advanceTo } = await aboutToLose();
    let refusals = 4;
    scripts.onRegister = () => Promise.resolve(refusals-- > 0 ? { registered: false, holderLeftMs: HEARTBEAT_MS } : REGISTERED);
    scripts.onHeartbeat = () => Promise.resolve(EXTENDED);
    const renewedAt = LOST_AT + NEXT_TURN_MS + 4 * PERIOD_MS; // after four refusals, heartbeatMs / 3 apart
    await advanceTo(renewedAt);

    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConfigError);
    expect(errors[0]).toMatchObject({ setting: 'consumerId' });
    const renewals = scripts.registers().slice(1);
    expect(renewals).toHaveLength(5);
    for (const renewal of renewals) expect(renewal).toEqual({ nonce: renewals[0]!.nonce, replaces: first });
    expect(story).toEqual([`lost@${LOST_AT}`, `renewed@${renewedAt}`]);
    expect(session.current).toBe('live');
  });

  it('a conflict after an earlier one was resolved is reported again', async () => {
    const { session, scripts, story, errors, advanceTo } = setUp();
    const refusal: RegisterResult = { registered: false, holderLeftMs: HEARTBEAT_MS };
    scripts.onRegister = inTurn<RegisterResult>(
      () => Promise.resolve(REGISTERED), // start
      () => Promise.resolve(refusal), // after the first loss
      () => Promise.resolve(REGISTERED),
      () => Promise.resolve(refusal), // after the second loss
      () => Promise.resolve(REGISTERED),
    );
    scripts.onHeartbeat = inTurn(
      () => Promise.resolve(EXTENDED),
      () => Promise.resolve(NOT_EXTENDED),
      () => Promise.resolve(NOT_EXTENDED),
      () => Promise.resolve(EXTENDED),
    );
    await session.start();
    await advanceTo(4 * PERIOD_MS + 500);

    expect(story.map((event) => event.split('@')[0])).toEqual(['lost', 'renewed', 'lost', 'renewed']);
    expect(errors.filter((error) => error instanceof ConfigError)).toHaveLength(2);
  });

  it('stop() during a renewal: its reply changes nothing and no timer is left', async () => {
    const { session, scripts, story, advanceTo } = await aboutToLose();
    const reply = deferred<RegisterResult>();
    scripts.onRegister = () => reply.promise;
    await advanceTo(LOST_AT);
    session.stop();
    reply.resolve(REGISTERED);
    await advanceTo(WINDOW_MS + 10);

    expect(session.current).toBe('stopped');
    expect(story).toEqual([`lost@${LOST_AT}`]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('Session.incarnation()', () => {
  it('isCurrent() is true while live and valid, false once the window has passed', async () => {
    const { session, scripts, advanceTo } = setUp();
    scripts.onHeartbeat = never;
    await session.start();
    const incarnation = session.incarnation();
    expect(incarnation.isCurrent()).toBe(true);

    await advanceTo(WINDOW_MS); // the timer has not fired yet: the session is still `live`
    expect(session.current).toBe('live');
    expect(incarnation.isCurrent()).toBe(false);
  });

  it('isCurrent() is false for the old incarnation after a renewal, true for the new one', async () => {
    const { session, scripts, advanceTo } = setUp();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => Promise.resolve(NOT_EXTENDED), () => Promise.resolve(EXTENDED));
    await session.start();
    const old = session.incarnation();
    await advanceTo(PERIOD_MS + NEXT_TURN_MS);

    expect(session.current).toBe('live');
    const renewed = session.incarnation();
    expect(renewed.nonce).not.toBe(old.nonce);
    expect(old.isCurrent()).toBe(false);
    expect(renewed.isCurrent()).toBe(true);
  });
});

describe('Session.retire()', () => {
  it('retire() with streams still pending stops the heartbeat, waits for the call in flight, ends the session under the current nonce and touches the key until it is gone', async () => {
    const { session, scripts, advanceTo } = setUp();
    const inFlight = deferred<HeartbeatResult>();
    scripts.onHeartbeat = inTurn(() => Promise.resolve(EXTENDED), () => inFlight.promise);
    scripts.onRetire = () => Promise.resolve('expiring');
    let touches = 0;
    scripts.onExists = () => Promise.resolve(++touches < 3); // Redis expires the key by the third touch
    await session.start();
    await advanceTo(PERIOD_MS);

    const retired = session.retire();
    await vi.advanceTimersByTimeAsync(0);
    expect(scripts.of('retire')).toEqual([]); // not before the heartbeat in flight has its reply
    inFlight.resolve(EXTENDED);
    await vi.advanceTimersByTimeAsync(100);

    await expect(isSettled(retired)).resolves.toBe(true);
    expect(scripts.of('retire').map((call) => call.nonce)).toEqual([session.incarnation().nonce]);
    const touched = scripts.of('exists').map((call) => call.at);
    expect(touched).toHaveLength(3);
    for (let i = 1; i < touched.length; i++) expect(touched[i]! - touched[i - 1]!).toBe(2);
    expect(session.current).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
    await advanceTo(10 * HEARTBEAT_MS);
    expect(scripts.of('heartbeat')).toHaveLength(2);
  });

  it('retire() touches a key that does not expire (another incarnation took it meanwhile) a bounded number of times', async () => {
    const { session, scripts } = setUp();
    scripts.onRetire = () => Promise.resolve('expiring');
    scripts.onExists = () => Promise.resolve(true);
    await session.start();
    const retired = session.retire();
    await vi.advanceTimersByTimeAsync(1000);

    await expect(isSettled(retired)).resolves.toBe(true);
    expect(scripts.of('exists')).toHaveLength(20);
  });

  it('retire() refused (the key holds another nonce) touches nothing', async () => {
    const { session, scripts } = setUp();
    scripts.onRetire = () => Promise.resolve('not-ours');
    await session.start();
    const retired = session.retire();
    await vi.advanceTimersByTimeAsync(100);

    await expect(isSettled(retired)).resolves.toBe(true);
    expect(scripts.of('exists')).toEqual([]);
  });

  it('retire() with nothing pending removes the session under the current nonce, touching nothing', async () => {
    const { session, scripts, advanceTo } = setUp();
    await session.start();
    await advanceTo(0);
    await expect(session.retire()).resolves.toBe('removed');

    expect(scripts.of('retire').map((call) => call.nonce)).toEqual([session.incarnation().nonce]);
    expect(scripts.of('exists')).toEqual([]);
    expect(session.current).toBe('stopped');
    expect(vi.getTimerCount()).toBe(0);
    await advanceTo(10 * HEARTBEAT_MS);
    expect(scripts.of('heartbeat')).toHaveLength(1);
  });
});
