import { setTimeout as sleep } from 'node:timers/promises';
import { StreamProcessingError } from '../errors.js';
import type { ReadEntry, StreamEntry } from './entry.js';
import type { RunSettings } from './run-options.js';
import type { StreamWork } from './stream-work.js';

/** Delay before the n-th retry of a failed handler: 100 ms, doubling, at most 5 s. */
function retryDelay(attempt: number): number {
  return Math.min(5000, 100 * 2 ** (attempt - 1));
}

/** How soon a stream held back by an invalid session is looked at again. */
const HELD_RETRY_MS = 100;

/** What the processor needs from the rest of the processing. */
export interface ProcessorDeps {
  /** Whether a handler may start for this stream now (its lease and this consumer's session are valid). */
  mayStart(work: StreamWork): boolean;
  /** Entries were taken out of the stream's buffer. */
  taken(work: StreamWork, count: number): void;
  /** The entry `id` is processed. */
  processed(work: StreamWork, id: string, epoch: number): void;
  /** The end marker was reached, every entry before it processed: finish the stream. */
  reachedEnd(work: StreamWork): Promise<void>;
  /** The entry failed `attempts` times: move it to the entry dead-letter stream and report it. Rejects when the
   * write failed. */
  deadLetter(work: StreamWork, entry: ReadEntry, attempts: number, error: unknown): Promise<void>;
  report(error: unknown): void;
  /** A handler call on `entries` entries ended after `ms`: it returned, or threw (and the entries are retried or
   * dead-lettered). */
  handled(entries: number, ms: number, outcome: 'processed' | 'failed'): void;
  /** `entries` entries go to the handler again after it threw. */
  retried(entries: number): void;
  /** No handler works on the stream any more (for a hand-off waiting on it). */
  settled(work: StreamWork): void;
}

/**
 * Runs `run()`'s handler over the owned streams that have entries read: up to `concurrency` streams at a time, the
 * entries of one stream one at a time and in order (or in batches, with `eachBatch`), retrying a failing handler
 * before the entry is dead-lettered.
 */
export class Processor {
  private readonly ready: StreamWork[] = [];
  private active = 0;
  private draining = false;
  private idle: Array<() => void> = [];

  constructor(
    private readonly settings: RunSettings,
    private readonly deps: ProcessorDeps,
  ) {}

  /** The stream has entries to process: it gets a turn. */
  offer(work: StreamWork): void {
    if (work.busy || work.queued || work.buffer.length === 0 || this.draining) return;
    work.queued = true;
    this.ready.push(work);
    this.pump();
  }

  /** Starts no more handlers; resolves when the running ones have ended. */
  drain(): Promise<void> {
    this.draining = true;
    this.ready.length = 0;
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.active < this.settings.concurrency && this.ready.length > 0 && !this.draining) {
      const work = this.ready.shift()!;
      work.queued = false;
      if (work.busy || !work.live) continue;
      work.busy = true;
      this.active += 1;
      void this.turn(work);
    }
  }

  /** One turn of a stream: up to batchSize entries, then the next stream waiting gets its turn. */
  private async turn(work: StreamWork): Promise<void> {
    let held = false;
    try {
      let handled = 0;
      while (handled < work.settings.batchSize && work.buffer.length > 0 && work.live && !this.draining) {
        const step = this.settings.handler.kind === 'entry' ? await this.oneEntry(work) : await this.oneBatch(work);
        if (step === 0) {
          held = work.live;
          break;
        }
        handled += step;
      }
    } catch (error) {
      // Not expected (the steps report their own failures): look again later rather than at once.
      this.deps.report(error);
      held = work.live;
    } finally {
      work.busy = false;
      work.current = undefined;
      this.deps.settled(work);
      this.active -= 1;
      if (this.draining && this.active === 0) for (const resolve of this.idle.splice(0)) resolve();
      // Held back with its lease still on (the session's validity window ended; the session is about to be found
      // lost, or renewed): look again shortly rather than at once.
      if (held) setTimeout(() => this.offer(work), HELD_RETRY_MS).unref();
      else this.offer(work);
      this.pump();
    }
  }

  /** Takes the end marker off the buffer, if it comes first, and finishes the stream. */
  private async atEnd(work: StreamWork): Promise<boolean> {
    if (!this.isEnd(work, work.buffer[0]!)) return false;
    work.take(1);
    this.deps.taken(work, 1);
    await this.deps.reachedEnd(work);
    return true;
  }

  private async oneEntry(work: StreamWork): Promise<number> {
    if (await this.atEnd(work)) return 0;
    const entry = work.buffer[0]!;
    const epoch = work.epoch;
    const call = this.settings.handler.call as (entry: StreamEntry, lease: StreamWork['lease']) => unknown;
    const outcome = await this.attempts(work, [entry], (attempt) => call(toEntry(work, entry, attempt), work.lease));
    if (outcome === 'stopped') return 0;
    this.deps.processed(work, entry.id, epoch);
    return 1;
  }

  private async oneBatch(work: StreamWork): Promise<number> {
    if (await this.atEnd(work)) return 0;
    let size = 1;
    while (size < Math.min(work.settings.batchSize, work.buffer.length) && !this.isEnd(work, work.buffer[size]!)) size += 1;
    const entries = work.buffer.slice(0, size);
    const epoch = work.epoch;
    const call = this.settings.handler.call as (batch: unknown, lease: StreamWork['lease']) => unknown;
    const outcome = await this.attempts(work, entries, (attempt) =>
      call({ stream: work.stream, token: work.lease.token, entries: entries.map((entry) => toEntry(work, entry, attempt)) }, work.lease),
    );
    if (outcome === 'stopped') return 0;
    this.deps.processed(work, entries[entries.length - 1]!.id, epoch);
    return entries.length;
  }

  private isEnd(work: StreamWork, entry: ReadEntry): boolean {
    return isEndMarker(work, entry, (error) => this.deps.report(error));
  }

  /**
   * Calls the handler until it succeeds or has failed maxAttempts times (then the entries are dead-lettered). The
   * entries leave the buffer when their first call starts. 'stopped': the lease ended (or, before the first call,
   * the session's validity window has), so the entries are neither retried nor dead-lettered: they are the next
   * owner's, or still in the buffer.
   */
  private async attempts(work: StreamWork, entries: readonly ReadEntry[], call: (attempt: number) => unknown): Promise<'done' | 'stopped'> {
    if (!this.deps.mayStart(work)) return 'stopped';
    work.take(entries.length);
    this.deps.taken(work, entries.length);
    work.current = entries[0];
    for (let attempt = 1; ; attempt += 1) {
      if (attempt > 1) this.deps.retried(entries.length);
      const started = performance.now();
      try {
        await call(attempt);
        this.deps.handled(entries.length, performance.now() - started, 'processed');
        return 'done';
      } catch (error) {
        this.deps.handled(entries.length, performance.now() - started, 'failed');
        if (work.lease.ended) return 'stopped';
        if (attempt >= this.settings.maxAttempts) return (await this.deadLetter(work, entries, attempt, error)) ? 'done' : 'stopped';
        await sleep(retryDelay(attempt));
      }
      // Out of the buffer already: wait for the session to be valid again, or for the lease to end.
      if (!(await this.until(work, () => this.deps.mayStart(work)))) return 'stopped';
    }
  }

  /** Dead-letters the entries one by one; a write that fails is tried again until it succeeds or the lease ends
   * (false): an entry is never passed over. */
  private async deadLetter(work: StreamWork, entries: readonly ReadEntry[], attempts: number, error: unknown): Promise<boolean> {
    for (const entry of entries) {
      const written = await this.until(work, () =>
        this.deps.deadLetter(work, entry, attempts, error).then(
          () => true,
          (writeError: unknown) => {
            this.deps.report(writeError);
            return false;
          },
        ),
      );
      if (!written) return false;
    }
    return true;
  }

  /** Tries `ready` until it is true (then true), looking again every HELD_RETRY_MS and more slowly, or until the
   * stream is not this consumer's to process any more (then false). */
  private async until(work: StreamWork, ready: () => boolean | Promise<boolean>): Promise<boolean> {
    for (let waited = 0; ; waited += 1) {
      if (work.lease.ended || work.closed) return false;
      if (await ready()) return true;
      await sleep(Math.min(5000, HELD_RETRY_MS * 2 ** Math.min(waited, 6)));
    }
  }
}

/** Whether `entry` is the stream's end marker (`isEnd`); an isEnd that throws is reported, and the entry is not. */
export function isEndMarker(work: StreamWork, entry: ReadEntry, report: (error: unknown) => void): boolean {
  const { isEnd } = work.settings;
  if (!isEnd) return false;
  try {
    return Boolean(isEnd(toEntry(work, entry, 1)));
  } catch (error) {
    report(new StreamProcessingError(work.stream, `isEnd threw for entry ${entry.id} of stream "${work.stream}": it is taken as no end marker`, { cause: error }));
    return false;
  }
}

export function toEntry(work: StreamWork, entry: ReadEntry, attempt: number): StreamEntry {
  return { stream: work.stream, id: entry.id, fields: entry.fields, token: work.lease.token, attempt };
}
