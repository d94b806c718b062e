import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import { ClientLog } from '../../lib/client-log.js';
import type { RedisStreamClientEvents, StreamLease } from '../../lib/events.js';
import { listenerRecords } from '../../lib/listener-records.js';
import type { LogFields } from '../../lib/logger.js';
import { Notifier } from '../../lib/notifier.js';
import { fakeLease as lease } from '../support/unit-fakes.js';

// The notifier reads eventemitter3's listener records (see lib/listener-records.ts). These specs fail when an
// eventemitter3 release stores them differently or calls listeners differently from what the notifier does.

type Call = [listener: string, self: unknown, payload: unknown];

/** The same registrations on a fresh emitter: on and once, with and without a context, one function twice. */
function registered(calls: Call[]): EventEmitter<RedisStreamClientEvents> {
  const emitter = new EventEmitter<RedisStreamClientEvents>();
  const context = { name: 'context' };
  const listener = (name: string) =>
    function (this: unknown, payload: StreamLease): void {
      calls.push([name, this === emitter ? 'emitter' : this, payload.stream]);
    };
  const twice = listener('twice');
  emitter.on('streamAdded', listener('on'));
  emitter.once('streamAdded', listener('once'));
  emitter.on('streamAdded', listener('on+context'), context);
  emitter.once('streamAdded', listener('once+context'), context);
  emitter.on('streamAdded', twice);
  emitter.once('streamAdded', twice);
  return emitter;
}


const silentLog = new ClientLog({ debug() {}, info() {}, warn() {}, error() {} }, 'orders', 'c1');

describe('listenerRecords on the installed eventemitter3', () => {
  it('reads one record and several records, with fn, context and once', () => {
    const emitter = new EventEmitter<RedisStreamClientEvents>();
    const context = { name: 'context' };
    const first = (): void => {};
    const second = (): void => {};
    expect(listenerRecords(emitter, 'streamAdded')).toEqual([]);
    emitter.once('streamAdded', first, context);
    expect(listenerRecords(emitter, 'streamAdded')).toEqual([{ fn: first, context, once: true }]);
    emitter.on('streamAdded', second);
    expect(listenerRecords(emitter, 'streamAdded')).toEqual([
      { fn: first, context, once: true },
      { fn: second, context: emitter, once: false },
    ]);
  });

  it('the notifier calls exactly what emit() calls, with the same `this`, and leaves the same listeners', () => {
    const byEmit: Call[] = [];
    const emitted = registered(byEmit);
    const byNotifier: Call[] = [];
    const notified = registered(byNotifier);
    const notifier = new Notifier(notified, silentLog);
    for (const stream of ['a', 'b']) {
      emitted.emit('streamAdded', lease(stream));
      notifier.notify('streamAdded', lease(stream));
    }
    expect(byNotifier).toEqual(byEmit);
    expect(byEmit.filter(([, , stream]) => stream === 'b').map(([name]) => name)).toEqual(['on', 'on+context', 'twice']);
    expect(notified.listenerCount('streamAdded')).toBe(emitted.listenerCount('streamAdded'));
  });
});

describe('Notifier on an emitter whose listener storage it does not know', () => {
  /** Stands for a future eventemitter3 that keeps listeners elsewhere: the public methods work, and `_events` is
   * gone or no longer holds them. */
  function unknownLayout(events: object | undefined): EventEmitter<RedisStreamClientEvents> {
    const listeners = new Map<string, Array<(...args: unknown[]) => unknown>>();
    return {
      _events: events,
      listeners: (event: string) => [...(listeners.get(event) ?? [])],
      listenerCount: (event: string) => listeners.get(event)?.length ?? 0,
      on(event: string, fn: (...args: unknown[]) => unknown) {
        listeners.set(event, [...(listeners.get(event) ?? []), fn]);
        return this;
      },
      removeListener() {
        return this;
      },
    } as unknown as EventEmitter<RedisStreamClientEvents>;
  }

  it.each([
    ['no _events', undefined],
    ['an _events without them', {}],
  ])('(%s) still isolates listeners and warns once that once() and contexts are not honoured', (_, events) => {
    const emitter = unknownLayout(events);
    const warnings: LogFields[] = [];
    const log = new ClientLog({ debug() {}, info() {}, warn: (fields) => void warnings.push(fields), error() {} }, 'orders', 'c1');
    const notifier = new Notifier(emitter, log);
    const seen: string[] = [];
    const errors: unknown[] = [];
    emitter.on('error', (error) => void errors.push(error));
    emitter.on('streamAdded', () => {
      throw new Error('listener bug');
    });
    emitter.on('streamAdded', (added) => void seen.push(added.stream));
    expect(listenerRecords(emitter, 'streamAdded')).toBeUndefined();
    notifier.notify('streamAdded', lease('a'));
    notifier.notify('streamAdded', lease('b'));
    expect(seen).toEqual(['a', 'b']);
    expect(errors).toHaveLength(1); // the second failure of the same kind is held back for the summary
    expect(warnings).toHaveLength(1);
    notifier.stop();
  });
});
