/**
 * Stand-ins for the parts around a part under unit test: replies the test controls (including replies that come
 * late or never), a session whose incarnation the test changes, and a client context that reaches no Redis.
 */
import { ClientMetrics } from '../../lib/metrics.js';
import { nanoid } from 'nanoid';
import { ClientLog } from '../../lib/client-log.js';
import type { ClientContext } from '../../lib/context.js';
import { keysFor } from '../../lib/keys.js';
import type { StreamLease } from '../../lib/events.js';
import type { Logger } from '../../lib/logger.js';
import { parseOptions, type RedisStreamClientOptions } from '../../lib/options.js';
import type { RedisCommander } from '../../lib/redis.js';
import type { ScriptName, ScriptRunner } from '../../lib/scripts/runner.js';
import type { Incarnation, Session } from '../../lib/session.js';

/** A promise the test settles by hand. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A reply that never comes: a Redis that stopped answering, a socket nobody closes. */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** Whether `promise` has settled, after the microtasks queued so far have run (no timer is advanced). */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol('pending');
  const first = await Promise.race([promise.then(() => undefined, () => undefined), new Promise((resolve) => setImmediateReal(() => resolve(pending)))]);
  return first !== pending;
}

/** The real setImmediate, captured before a spec fakes the timers (isSettled must not depend on fake time). */
const setImmediateReal: (callback: () => void) => void = globalThis.setImmediate.bind(globalThis);

export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const unreachableRedis: RedisCommander = {
  sendCommand: (args) => Promise.reject(new Error(`unexpected command in a unit spec: ${args.join(' ')}`)),
};

/** The context of consumer `me` of service `orders`: its scripts go to `scripts`, its commands to `redis`. */
export function unitContext(
  scripts: FakeScriptRunner,
  options: Partial<RedisStreamClientOptions> = {},
  redis: RedisCommander = unreachableRedis,
): ClientContext {
  const resolved = parseOptions({ serviceName: 'orders', consumerId: 'me', ...options, logger: silentLogger });
  return {
    redis,
    scripts: scripts as unknown as ScriptRunner,
    keys: keysFor(resolved.serviceName),
    consumerId: resolved.consumerId,
    options: resolved,
    log: new ClientLog(silentLogger, resolved.serviceName, resolved.consumerId),
    metrics: new ClientMetrics(),
  };
}

export interface ScriptCall {
  readonly name: ScriptName;
  readonly keys: readonly string[];
  readonly args: ReadonlyArray<string | number>;
  /** performance.now() when the call went out (fake time under vi.useFakeTimers()). */
  readonly at: number;
}

export type ScriptHandler = (args: ReadonlyArray<string | number>, call: ScriptCall) => unknown;

/**
 * Answers script calls the way `ScriptRunner.run` does, with the raw reply a handler per script name gives (a
 * value, a promise, or a throw for a Redis error). Every call is recorded.
 */
export class FakeScriptRunner {
  readonly calls: ScriptCall[] = [];
  private readonly handlers = new Map<ScriptName, ScriptHandler>();

  on(name: ScriptName, handler: ScriptHandler): this {
    this.handlers.set(name, handler);
    return this;
  }

  callsOf(name: ScriptName): ScriptCall[] {
    return this.calls.filter((call) => call.name === name);
  }

  async run(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const call = { name, keys, args, at: performance.now() };
    this.calls.push(call);
    const handler = this.handlers.get(name);
    if (!handler) throw new Error(`no reply set for script ${name}`);
    return handler(args, call);
  }
}

/** The parts of `Session` that readers of it use: the incarnation, and whether it may act now. */
export class FakeSession {
  nonce = nanoid();
  valid = true;
  /** How often a part asked for a heartbeat at once. */
  heartbeatsAsked = 0;

  heartbeatSoon(): void {
    this.heartbeatsAsked += 1;
  }

  incarnation(): Incarnation {
    const nonce = this.nonce;
    return { nonce, isCurrent: () => nonce === this.nonce && this.valid };
  }

  isValid(): boolean {
    return this.valid;
  }

  /** A loss and a renewal: a new incarnation with a new nonce. */
  renew(): void {
    this.nonce = nanoid();
  }

  asSession(): Session {
    return this as unknown as Session;
  }
}

/** A lease as listeners receive it, for specs of event delivery: nothing behind it. */
export function fakeLease(stream: string): StreamLease {
  return {
    stream,
    lbsId: '1-0',
    info: {},
    token: 1,
    consumerId: 'c1',
    signal: new AbortController().signal,
    origin: 'new',
    recovered: false,
    entries: () => {
      throw new Error('A fake lease has no entries');
    },
    lag: () => 0,
  };
}
