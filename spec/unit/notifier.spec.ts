import { EventEmitter } from 'eventemitter3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadLetterError, ListenerError, RedisStreamClientError, RepeatedErrors, SessionLostError } from '../../lib/errors.js';
import type { RedisStreamClientEvents, StreamLease } from '../../lib/events.js';
import { ClientLog } from '../../lib/client-log.js';
import type { LogFields, Logger } from '../../lib/logger.js';
import { Notifier } from '../../lib/notifier.js';
import { waitFor } from '../support/wait.js';
import { fakeLease as lease } from '../support/unit-fakes.js';


function setUp() {
  const emitter = new EventEmitter<RedisStreamClientEvents>();
  const logged: Array<{ level: string; fields: LogFields; message: string }> = [];
  const at =
    (level: string) =>
    (fields: LogFields, message: string): void =>
      void logged.push({ level, fields, message });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  const notifier = new Notifier(emitter, new ClientLog(logger, 'orders', 'c1'));
  const errors: RedisStreamClientError[] = [];
  return { emitter, notifier, errors, logged, listenToErrors: () => emitter.on('error', (error) => void errors.push(error)) };
}

describe('Notifier delivers with eventemitter3 semantics', () => {
  it('a once() listener fires for the first event only and is removed', () => {
    const { emitter, notifier } = setUp();
    const seen: string[] = [];
    emitter.once('streamAdded', (added) => void seen.push(added.stream));
    expect(emitter.listenerCount('streamAdded')).toBe(1);
    notifier.notify('streamAdded', lease('a'));
    expect(emitter.listenerCount('streamAdded')).toBe(0);
    notifier.notify('streamAdded', lease('b'));
    expect(seen).toEqual(['a']);
  });

  it('a once() listener is removed before it runs, as eventemitter3 does: an event it causes does not reach it', () => {
    const { emitter, notifier } = setUp();
    const seen: string[] = [];
    emitter.once('streamAdded', (added) => {
      seen.push(added.stream);
      notifier.notify('streamAdded', lease(`${added.stream}+`));
    });
    notifier.notify('streamAdded', lease('a'));
    expect(seen).toEqual(['a']);
  });

  it('runs a listener with the context given to on() or once() as `this`', () => {
    const { emitter, notifier } = setUp();
    const context = { name: 'handler' };
    const seen: unknown[] = [];
    emitter.on('streamAdded', function (this: unknown) {
      seen.push(this);
    }, context);
    emitter.once('streamDisowned', function (this: unknown) {
      seen.push(this);
    }, context);
    notifier.notify('streamAdded', lease('a'));
    notifier.notify('streamDisowned', lease('a'));
    expect(seen).toHaveLength(2);
    for (const self of seen) expect(self).toBe(context);
  });

  it('without a context, `this` is the emitter (eventemitter3 default)', () => {
    const { emitter, notifier } = setUp();
    const seen: unknown[] = [];
    emitter.on('streamExpired', function (this: unknown) {
      seen.push(this);
    });
    notifier.notify('streamExpired', { stream: 'a', lbsId: '1-0', info: {}, previousOwner: 'c2' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(emitter);
  });

  it('off() removes on() and once() listeners, and listeners() lists what was registered', () => {
    const { emitter, notifier } = setUp();
    const seen: string[] = [];
    const onListener = (added: StreamLease): void => void seen.push(`on:${added.stream}`);
    const onceListener = (added: StreamLease): void => void seen.push(`once:${added.stream}`);
    emitter.on('streamAdded', onListener);
    emitter.once('streamAdded', onceListener);
    expect(emitter.listeners('streamAdded')).toEqual([onListener, onceListener]);
    emitter.off('streamAdded', onListener);
    emitter.off('streamAdded', onceListener);
    expect(emitter.listenerCount('streamAdded')).toBe(0);
    notifier.notify('streamAdded', lease('a'));
    expect(seen).toEqual([]);
  });

  it('a listener removed by an earlier listener of the same event still runs for that event, as with emit()', () => {
    const { emitter, notifier } = setUp();
    const seen: string[] = [];
    const second = (): void => void seen.push('second');
    emitter.on('streamAdded', () => {
      seen.push('first');
      emitter.off('streamAdded', second);
    });
    emitter.on('streamAdded', second);
    notifier.notify('streamAdded', lease('a'));
    notifier.notify('streamAdded', lease('b'));
    expect(seen).toEqual(['first', 'second', 'first']);
  });
});

describe('Notifier isolates listeners', () => {
  it('a throwing once() listener is removed, reported through error, and the next listener still runs', () => {
    const { emitter, notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    const seen: string[] = [];
    emitter.once('streamAdded', () => {
      throw new TypeError('listener bug');
    });
    emitter.on('streamAdded', (added) => void seen.push(added.stream));
    notifier.notify('streamAdded', lease('a'));
    notifier.notify('streamAdded', lease('b'));
    expect(emitter.listenerCount('streamAdded')).toBe(1);
    expect(seen).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ListenerError);
    expect(errors[0]).toBeInstanceOf(RedisStreamClientError);
    expect(errors[0]).toMatchObject({ event: 'streamAdded', message: 'A streamAdded listener failed: TypeError: listener bug' });
    expect(errors[0]!.cause).toBeInstanceOf(TypeError);
  });

  it('an async listener that rejects is reported through error', async () => {
    const { emitter, notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    const failure = new Error('async listener bug');
    emitter.on('streamDisowned', async () => {
      await Promise.resolve();
      throw failure;
    });
    notifier.notify('streamDisowned', lease('a'));
    await waitFor(() => errors.length === 1);
    expect(errors[0]!.cause).toBe(failure);
    expect(errors[0]!.message).toContain('streamDisowned');
  });

  it('a once() error listener gets one error; the next one nobody listens to is logged with it under err', () => {
    const { emitter, notifier, logged } = setUp();
    const errors: RedisStreamClientError[] = [];
    emitter.once('error', (error) => void errors.push(error));
    // Two kinds: the second is not held back by flood control.
    const second = new SessionLostError('second');
    notifier.report(new RedisStreamClientError('first'));
    notifier.report(second);
    expect(errors.map((error) => error.message)).toEqual(['first']);
    expect(emitter.listenerCount('error')).toBe(0);
    expect(logged).toEqual([{ level: 'error', message: 'second', fields: { service: 'orders', consumerId: 'c1', err: second } }]);
  });

  it('error listeners run with their context as `this`', () => {
    const { emitter, notifier } = setUp();
    const context = { name: 'handler' };
    const seen: unknown[] = [];
    emitter.on('error', function (this: unknown) {
      seen.push(this);
    }, context);
    notifier.report(new RedisStreamClientError('boom'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(context);
  });

  it('an error listener that throws is logged with what it threw under err; the other error listeners still run', () => {
    const { emitter, notifier, logged } = setUp();
    const heard: string[] = [];
    const bug = new Error('error listener bug');
    emitter.on('error', () => {
      throw bug;
    });
    emitter.on('error', (error) => void heard.push(error.message));
    notifier.report(new DeadLetterError('1-0', 'missing field lbs-input'));
    expect(heard).toEqual(['LBS entry 1-0 was moved to the dead-letter stream: missing field lbs-input']);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.level).toBe('error');
    expect(logged[0]!.fields.err).toBe(bug);
    expect(logged[0]!.fields.reported).toContain('DeadLetterError');
  });

  it('wraps what is not a RedisStreamClientError, keeping it as cause', () => {
    const { notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    const socketError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    notifier.report(socketError);
    expect(errors[0]).toBeInstanceOf(RedisStreamClientError);
    expect(errors[0]!.cause).toBe(socketError);
  });
});

describe('Notifier holds back repeated errors', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports the first error of a kind, then one RepeatedErrors per 10 s; stop() delivers what is pending', () => {
    vi.useFakeTimers();
    const { notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 46; i++) notifier.report(refused());
    expect(errors).toHaveLength(1);
    vi.advanceTimersByTime(10_000);
    expect(errors).toHaveLength(2);
    expect(errors[1]).toBeInstanceOf(RepeatedErrors);
    expect((errors[1] as RepeatedErrors).count).toBe(45);
    notifier.report(refused());
    notifier.stop();
    expect(errors).toHaveLength(3);
    expect((errors[2] as RepeatedErrors).count).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('never holds back a DeadLetterError: each names an entry', () => {
    vi.useFakeTimers();
    const { notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    for (let i = 0; i < 5; i++) notifier.report(new DeadLetterError(`${i}-0`, 'missing field lbs-input'));
    expect(errors.map((error) => (error as DeadLetterError).lbsId)).toEqual(['0-0', '1-0', '2-0', '3-0', '4-0']);
  });

  it('holds back repeated listener failures too, per event', () => {
    vi.useFakeTimers();
    const { emitter, notifier, errors, listenToErrors } = setUp();
    listenToErrors();
    emitter.on('streamAdded', () => {
      throw new TypeError('listener bug');
    });
    emitter.on('streamDisowned', () => {
      throw new TypeError('listener bug');
    });
    for (let i = 0; i < 10; i++) notifier.notify('streamAdded', lease(`s${i}`));
    notifier.notify('streamDisowned', lease('s0'));
    expect(errors.map((error) => error.message)).toEqual([
      'A streamAdded listener failed: TypeError: listener bug',
      'A streamDisowned listener failed: TypeError: listener bug',
    ]);
    expect(errors.every((error) => error instanceof ListenerError)).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(errors).toHaveLength(3);
    expect(errors[2]).toMatchObject({ kind: 'ListenerError:streamAdded(TypeError)', count: 9 });
  });
});
