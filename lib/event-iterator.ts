import type { EventEmitter } from 'eventemitter3';
import type { RedisStreamClientEvents } from './events.js';

/** The payload of one of the client's events: `StreamLease` for `streamAdded`, and so on. */
export type EventPayload<E extends keyof RedisStreamClientEvents> = Parameters<RedisStreamClientEvents[E]>[0];

/** What `on` and `once` listen to: a RedisStreamClient, or any eventemitter3 emitter of the client's events. */
export type ClientEventSource = EventEmitter<RedisStreamClientEvents>;

export interface EventIterationOptions {
  /** Ends the iteration (`on`) or rejects the promise (`once`, with the signal's reason), and removes the listener. */
  readonly signal?: AbortSignal;
}

/**
 * The client's `event`s as an async iterator, typed by event: `for await (const lease of on(client, 'streamAdded'))`.
 * The listener is added at once, and events are buffered until the loop takes them (the buffer is unbounded: keep
 * the loop body short, or hand the work off). The listener is removed when the loop ends (`break`, `return`, a
 * throw) or the signal aborts; events still buffered then are dropped (`client.owned()` lists every lease held).
 *
 * Unlike `on` from node:events, it does not end on the client's `error` event (errors are not fatal here: listen to
 * them separately), and an abort ends the loop quietly instead of throwing an AbortError.
 */
export function on<E extends keyof RedisStreamClientEvents>(
  client: ClientEventSource,
  event: E,
  { signal }: EventIterationOptions = {},
): AsyncIterableIterator<EventPayload<E>> {
  const buffered: Array<EventPayload<E>> = [];
  const waiting: Array<(result: IteratorResult<EventPayload<E>, undefined>) => void> = [];
  let ended = signal?.aborted ?? false;

  const listener = (payload: EventPayload<E>): void => {
    const take = waiting.shift();
    if (take) take({ value: payload, done: false });
    else buffered.push(payload);
  };
  const end = (): void => {
    if (ended) return;
    ended = true;
    client.off(event, listener);
    signal?.removeEventListener('abort', end);
    buffered.length = 0;
    for (const take of waiting.splice(0)) take({ value: undefined, done: true });
  };
  if (!ended) {
    client.on(event, listener);
    signal?.addEventListener('abort', end, { once: true });
  }

  return {
    next: () => {
      if (buffered.length > 0) return Promise.resolve({ value: buffered.shift()!, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiting.push(resolve));
    },
    return: () => {
      end();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The payload of the client's next `event`: `const lease = await once(client, 'streamAdded', { signal })`. Rejects
 * with the signal's reason when it aborts first. Unlike `once` from node:events, the client's `error` event does
 * not reject it.
 */
export function once<E extends keyof RedisStreamClientEvents>(
  client: ClientEventSource,
  event: E,
  { signal }: EventIterationOptions = {},
): Promise<EventPayload<E>> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const listener = (payload: EventPayload<E>): void => {
      stop();
      resolve(payload);
    };
    const abort = (): void => {
      stop();
      reject(signal?.reason);
    };
    const stop = (): void => {
      client.off(event, listener);
      signal?.removeEventListener('abort', abort);
    };
    client.on(event, listener);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
