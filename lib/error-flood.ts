import { DeadLetterError, EntryDeadLetterError, ListenerError, RepeatedErrors, type RedisStreamClientError } from './errors.js';

/** After the first error of a kind is reported, the others of that kind are counted and summarised this often. */
export const SUMMARY_INTERVAL_MS = 10_000;

/** The clock and timers the flood control runs on; injected so that specs can drive time. */
export interface FloodTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

// Looked up at each call, not captured here, so that fake timers installed later are the ones used.
const systemTimers: FloodTimers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface Window {
  readonly openedAt: number;
  readonly timer: unknown;
  count: number;
  last: RedisStreamClientError | undefined;
}

/**
 * Keeps an outage from flooding the `error` event (one 4 s Redis outage gave 46 errors, most of them the same few
 * failures from each connection and retry loop). The first error of a kind is delivered at once and opens a
 * window of SUMMARY_INTERVAL_MS; errors of that kind within the window are only counted, and when it ends one
 * RepeatedErrors (with the count and the last error as `cause`) is delivered and the next window opens. A window
 * that ends with nothing counted closes, so the next error of that kind is delivered at once again.
 *
 * Never summarised: DeadLetterError and EntryDeadLetterError, since each one names an LBS entry or a data stream
 * entry that was moved aside and may need replaying (and there is at most one per entry). After stop() nothing is held back either.
 */
export class ErrorFloodControl {
  private readonly windows = new Map<string, Window>();
  private stopped = false;

  constructor(
    private readonly deliver: (error: RedisStreamClientError) => void,
    private readonly timers: FloodTimers = systemTimers,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {}

  submit(error: RedisStreamClientError): void {
    if (this.stopped || error instanceof DeadLetterError || error instanceof EntryDeadLetterError) {
      this.deliver(error);
      return;
    }
    const kind = errorKind(error);
    const window = this.windows.get(kind);
    if (window) {
      window.count++;
      window.last = error;
      return;
    }
    this.open(kind);
    this.deliver(error);
  }

  /**
   * Delivers the summaries still pending at once and cancels every timer: the errors they count happened, and a
   * client that is shutting down would otherwise drop them. From here on every error is delivered as it comes.
   */
  stop(): void {
    this.stopped = true;
    const pending = [...this.windows];
    this.windows.clear();
    for (const [kind, window] of pending) {
      this.timers.clearTimeout(window.timer);
      if (window.last) this.deliver(new RepeatedErrors(kind, window.count, this.timers.now() - window.openedAt, window.last));
    }
  }

  private open(kind: string): void {
    const timer = this.timers.setTimeout(() => this.close(kind), this.intervalMs);
    // A pending summary must not keep the process alive.
    (timer as { unref?: () => unknown } | undefined)?.unref?.();
    this.windows.set(kind, { openedAt: this.timers.now(), timer, count: 0, last: undefined });
  }

  private close(kind: string): void {
    const window = this.windows.get(kind);
    if (!window) return;
    this.windows.delete(kind);
    if (!window.last) return;
    // Errors keep coming: the next summary of this kind comes no sooner than one interval from now.
    this.open(kind);
    this.deliver(new RepeatedErrors(kind, window.count, this.timers.now() - window.openedAt, window.last));
  }
}

/**
 * What makes errors "the same" for flood control: the error's class, the event of a failing listener, and the
 * class of the underlying error with its code (a Node system error's `code`, or the first word of a Redis error
 * reply: READONLY, NOPERM, LOADING…). For example `RedisStreamClientError(Error ECONNREFUSED)`,
 * `RedisStreamClientError(SocketClosedUnexpectedlyError)`, `ListenerError:streamAdded(TypeError)`,
 * `SessionLostError`. Messages are left out: they carry ids and counts that differ from one error to the next.
 */
export function errorKind(error: RedisStreamClientError): string {
  const event = error instanceof ListenerError ? `:${error.event}` : '';
  const cause: unknown = error.cause;
  if (cause === undefined) return `${error.name}${event}`;
  const code = cause instanceof Error ? codeOf(cause) : '';
  return `${error.name}${event}(${cause instanceof Error ? className(cause) : typeof cause}${code ? ` ${code}` : ''})`;
}

/** node-redis's errors keep the name `Error`; their class says more. */
function className(error: Error): string {
  if (error.name !== 'Error') return error.name;
  const constructorName: unknown = error.constructor?.name;
  return typeof constructorName === 'string' && constructorName !== '' ? constructorName : error.name;
}

function codeOf(error: Error): string {
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return /^([A-Z][A-Z0-9_]+)\b/.exec(error.message)?.[1] ?? '';
}
