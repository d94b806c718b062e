import { EventEmitter } from 'eventemitter3';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RedisStreamClientError } from '../../lib/errors.js';
import { on, once } from '../../lib/event-iterator.js';
import type { RedisStreamClientEvents } from '../../lib/events.js';
import { fakeLease as lease } from '../support/unit-fakes.js';


function emitter(): EventEmitter<RedisStreamClientEvents> {
  return new EventEmitter<RedisStreamClientEvents>();
}

describe('on(client, event)', () => {
  it('yields every event in order, buffering those that come before the loop takes them', async () => {
    const client = emitter();
    const leases = on(client, 'streamAdded');
    client.emit('streamAdded', lease('a'));
    client.emit('streamAdded', lease('b'));
    const seen: string[] = [];
    for await (const added of leases) {
      seen.push(added.stream);
      if (added.stream === 'a') setTimeout(() => client.emit('streamAdded', lease('c')), 5);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('removes its listener when the loop breaks', async () => {
    const client = emitter();
    const leases = on(client, 'streamAdded');
    expect(client.listenerCount('streamAdded')).toBe(1);
    client.emit('streamAdded', lease('a'));
    for await (const _ of leases) break;
    expect(client.listenerCount('streamAdded')).toBe(0);
    expect(await leases.next()).toEqual({ value: undefined, done: true });
  });

  it('removes its listener when the loop body throws', async () => {
    const client = emitter();
    client.emit('streamAdded', lease('ignored: nobody listened yet'));
    const leases = on(client, 'streamAdded');
    client.emit('streamAdded', lease('a'));
    await expect(
      (async () => {
        for await (const _ of leases) throw new Error('handler failed');
      })(),
    ).rejects.toThrow('handler failed');
    expect(client.listenerCount('streamAdded')).toBe(0);
  });

  it('ends, without throwing, when the signal aborts: a waiting next() resolves done, and the listeners are removed', async () => {
    const client = emitter();
    const controller = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const disowned of on(client, 'streamDisowned', { signal: controller.signal })) seen.push(disowned.stream);
      return 'ended';
    })();
    client.emit('streamDisowned', lease('a'));
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await expect(loop).resolves.toBe('ended');
    expect(seen).toEqual(['a']);
    expect(client.listenerCount('streamDisowned')).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('with a signal already aborted, yields nothing and adds no listener', async () => {
    const client = emitter();
    const leases = on(client, 'streamAdded', { signal: AbortSignal.abort() });
    expect(client.listenerCount('streamAdded')).toBe(0);
    expect(await leases.next()).toEqual({ value: undefined, done: true });
  });

  it('a loop that ends leaves no abort listener on a long-lived signal', async () => {
    const client = emitter();
    const shutdown = new AbortController();
    for (let i = 0; i < 3; i++) {
      const leases = on(client, 'streamAdded', { signal: shutdown.signal });
      client.emit('streamAdded', lease(`s${i}`));
      for await (const _ of leases) break;
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('does not end on the client’s error event (errors are not fatal here)', async () => {
    const client = emitter();
    const leases = on(client, 'streamAdded');
    client.on('error', () => {});
    client.emit('error', new RedisStreamClientError('Redis is unreachable'));
    const added = lease('a');
    client.emit('streamAdded', added);
    expect(await leases.next()).toEqual({ value: added, done: false });
    await leases.return?.();
  });

  it('iterates the error event itself when asked to', async () => {
    const client = emitter();
    const errors = on(client, 'error');
    const error = new RedisStreamClientError('boom');
    client.emit('error', error);
    expect((await errors.next()).value).toBe(error);
    await errors.return?.();
    expect(client.listenerCount('error')).toBe(0);
  });
});

describe('once(client, event)', () => {
  it('resolves with the next event’s payload and removes its listener', async () => {
    const client = emitter();
    const next = once(client, 'streamExpired');
    const expired = { stream: 'a', lbsId: '1-0', info: {}, previousOwner: 'c2' };
    client.emit('streamExpired', expired);
    client.emit('streamExpired', { ...expired, stream: 'b' });
    await expect(next).resolves.toBe(expired);
    expect(client.listenerCount('streamExpired')).toBe(0);
  });

  it('is not rejected by the error event', async () => {
    const client = emitter();
    const next = once(client, 'streamAdded');
    client.on('error', () => {});
    client.emit('error', new RedisStreamClientError('boom'));
    const added = lease('a');
    client.emit('streamAdded', added);
    await expect(next).resolves.toBe(added);
  });

  it('rejects with the signal’s reason when it aborts first, and removes its listeners', async () => {
    const client = emitter();
    const controller = new AbortController();
    const next = once(client, 'streamAdded', { signal: controller.signal });
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    expect(client.listenerCount('streamAdded')).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects at once with a signal already aborted', async () => {
    const client = emitter();
    await expect(once(client, 'streamAdded', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(client.listenerCount('streamAdded')).toBe(0);
  });
});
