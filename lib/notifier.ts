import type { EventEmitter } from 'eventemitter3';
import type { ClientLog } from './client-log.js';
import { ErrorFloodControl } from './error-flood.js';
import { DeadLetterError, EntryDeadLetterError, ListenerError, RedisStreamClientError } from './errors.js';
import type { RedisStreamClientEvents } from './events.js';
import { listenerRecords, type ListenerRecord } from './listener-records.js';
import { ClientMetrics } from './metrics.js';

type StreamEvent = 'streamAdded' | 'streamExpired' | 'streamDisowned' | 'streamReleased';

/**
 * Delivers the client's events so that no listener can break the client: each listener is called on its own, and
 * one that throws or rejects is reported through `error` (a ListenerError). Listeners are called as eventemitter3
 * calls them: a once-listener is removed before it runs, and `this` is the context given to on() or once(). Errors
 * go through flood control (see ErrorFloodControl); an error nobody listens to is logged, never dropped, and so is
 * an error listener that fails.
 */
export class Notifier {
  private readonly flood: ErrorFloodControl;
  private warnedOfLayout = false;

  constructor(
    private readonly emitter: EventEmitter<RedisStreamClientEvents>,
    private readonly log: ClientLog,
    /** Counts what is given up and lost, and dead letters (acquisitions are counted where leases are made). */
    private readonly metrics: ClientMetrics = new ClientMetrics(),
  ) {
    this.flood = new ErrorFloodControl((error) => this.deliverError(error));
  }

  notify<E extends StreamEvent>(event: E, payload: Parameters<RedisStreamClientEvents[E]>[0]): void {
    if (event === 'streamReleased') this.metrics.released((payload as Parameters<RedisStreamClientEvents['streamReleased']>[0]).reason);
    else if (event === 'streamDisowned') this.metrics.lost();
    this.deliver(event, payload, (error) => this.report(new ListenerError(event, error)));
  }

  report(error: unknown): void {
    // Counted before flood control, which holds repeats back.
    if (error instanceof DeadLetterError) this.metrics.deadLettered('lbs');
    else if (error instanceof EntryDeadLetterError) this.metrics.deadLettered('entry');
    this.flood.submit(error instanceof RedisStreamClientError ? error : new RedisStreamClientError(String(error), { cause: error }));
  }

  /** Delivers the error summaries still pending (the client is stopping); later errors are not held back. */
  stop(): void {
    this.flood.stop();
  }

  private deliverError(error: RedisStreamClientError): void {
    if (this.emitter.listenerCount('error') === 0) {
      this.log.error(error.message, { err: error });
      return;
    }
    // Reporting a failing error listener through `error` could loop: it is logged instead.
    this.deliver('error', error, (listenerError) =>
      this.log.error('An error listener failed', { err: listenerError, reported: `${error.name}: ${error.message}` }),
    );
  }

  private deliver(event: keyof RedisStreamClientEvents, payload: unknown, failed: (error: unknown) => void): void {
    for (const record of this.recordsOf(event)) {
      // As eventemitter3's emit(): removed first, so that an event the listener itself causes does not reach it.
      if (record.once) this.emitter.removeListener(event, record.fn as never, undefined, true);
      try {
        const result = record.fn.call(record.context, payload);
        if (isPromiseLike(result)) result.then(undefined, failed);
      } catch (error) {
        failed(error);
      }
    }
  }

  private recordsOf(event: keyof RedisStreamClientEvents): ListenerRecord[] {
    const records = listenerRecords(this.emitter, event);
    if (records) return records;
    // An eventemitter3 that stores listeners in a way listenerRecords does not know: keep every listener isolated
    // and every rejection caught, at the cost of once() (the listener stays) and the context (`this` is the emitter).
    if (!this.warnedOfLayout) {
      this.warnedOfLayout = true;
      this.log.warn('This eventemitter3 version stores listeners in an unknown way: once() and listener contexts are not honoured');
    }
    return this.emitter.listeners(event).map((fn) => ({ fn: fn as ListenerRecord['fn'], context: this.emitter, once: false }));
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
