import { EventEmitter } from 'eventemitter3';

/** One registration on an eventemitter3 emitter, as `on(event, fn, context)` or `once(...)` stored it. */
export interface ListenerRecord {
  readonly fn: (...args: unknown[]) => unknown;
  /** What eventemitter3 calls `fn` with as `this`: the context given, else the emitter. */
  readonly context: unknown;
  readonly once: boolean;
}

/**
 * The listeners of `event` as eventemitter3 holds them, in registration order, or undefined when the emitter does
 * not store them the way eventemitter3 5.x does.
 *
 * Why read the records: the notifier calls each listener on its own (a throw or a rejection is reported, and the
 * next listener still runs), which eventemitter3's own emit() cannot do: it stops at the first throw. Calling the
 * functions from `listeners(event)` loses what only the records know: `once` (the listener must be removed before
 * it runs, as emit() does) and the context (the listener's `this`). The other way, wrapping listeners as they are
 * registered, would mean overriding on, addListener, once, off, removeListener and listeners (the aliases are
 * separate prototype properties) and mapping every function to its wrapper, so that `off(event, fn)` and
 * `listeners()` still behave; any entry point missed, now or in a later eventemitter3, would bypass the isolation
 * silently. Reading the records touches nothing users see: registration, removal and listing stay eventemitter3's.
 *
 * The layout read here (`_events[prefix + event]`: one record `{ fn, context, once }`, or an array of them) has
 * not changed since eventemitter3 1.x; spec/unit/listener-records.spec.ts fails if a new version changes it, and a
 * layout this function does not recognise gives undefined, so that the caller can fall back to `listeners()`.
 */
export function listenerRecords(emitter: { listenerCount(event: string): number }, event: string): ListenerRecord[] | undefined {
  const events = (emitter as unknown as { _events?: unknown })._events;
  if (typeof events !== 'object' || events === null) return undefined;
  const key = EventEmitter.prefixed ? `${String(EventEmitter.prefixed)}${event}` : event;
  const stored: unknown = (events as Record<string, unknown>)[key];
  // A copy: removing a once-listener replaces the stored array, and a listener may add or remove others.
  const records: unknown[] = stored === undefined ? [] : Array.isArray(stored) ? [...stored] : [stored];
  // Listeners stored under another key would otherwise look like no listeners at all.
  if (records.length !== emitter.listenerCount(event)) return undefined;
  return records.every(isRecord) ? records : undefined;
}

function isRecord(value: unknown): value is ListenerRecord {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ListenerRecord).fn === 'function' &&
    typeof (value as ListenerRecord).once === 'boolean' &&
    'context' in value
  );
}
