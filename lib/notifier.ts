import type { EventEmitter } from 'eventemitter3';
import type { ClientLog } from './client-log.js';
import { RedisStreamClientError } from './errors.js';
import type { RedisStreamClientEvents } from './events.js';

type StreamEvent = 'streamAdded' | 'streamExpired' | 'streamDisowned';

/**
 * Delivers the client's events so that no listener can break the client: each listener is called on its own, and
 * one that throws or rejects is reported through `error`. An error nobody listens to is logged, never dropped.
 */
export class Notifier {
  constructor(
    private readonly emitter: EventEmitter<RedisStreamClientEvents>,
    private readonly log: ClientLog,
  ) {}

  notify<E extends StreamEvent>(event: E, payload: Parameters<RedisStreamClientEvents[E]>[0]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        const result: unknown = (listener as (payload: unknown) => unknown)(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.listenerFailed(event, error));
      } catch (error) {
        this.listenerFailed(event, error);
      }
    }
  }

  report(error: unknown): void {
    const wrapped = error instanceof RedisStreamClientError ? error : new RedisStreamClientError(String(error), { cause: error });
    const listeners = this.emitter.listeners('error');
    if (listeners.length === 0) {
      this.log.error(wrapped.message, { err: wrapped });
      return;
    }
    for (const listener of listeners) {
      try {
        listener(wrapped);
      } catch (listenerError) {
        this.log.error('An error listener failed', { err: listenerError, reported: `${wrapped.name}: ${wrapped.message}` });
      }
    }
  }

  private listenerFailed(event: StreamEvent, error: unknown): void {
    this.report(new RedisStreamClientError(`A ${event} listener failed: ${String(error)}`, { cause: error }));
  }
}
