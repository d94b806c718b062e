import type { OwnedLease } from '../leases.js';
import type { ReadEntry } from './entry.js';
import type { ReadingSettings } from './run-options.js';
import { idTime } from './stream-id.js';

/**
 * The processing state of one owned stream: where reading goes on from, what was read and not yet processed, and
 * what was processed and not yet committed. Small on purpose: a consumer may hold many thousands, most of them idle.
 */
export class StreamWork {
  /** Reading goes on after this id. */
  cursor = '0-0';
  /** Read, not yet handed to the handler, oldest first. */
  readonly buffer: ReadEntry[] = [];
  /** The entry handed to the handler (or yielded) and not yet processed. */
  current: ReadEntry | undefined;
  /** Id of the last processed entry, when not committed yet. */
  processed: string | undefined;
  /** Changes when the position is set from outside (setPosition): entries read before belong to the old place. */
  epoch = 0;
  /** True once its position is loaded and reading may start. */
  open = false;
  /** No more entries are handed out: the lease ended, or the stream is being finished. */
  closed = false;
  /** The stream is finished (doneStream, its end marker, dead-lettered): its position is deleted, never committed. */
  finished = false;
  /** A handler or the iterator is working on it (one at a time, in order). */
  busy = false;
  /** Woken while its buffer was full: read once the buffer has room. */
  readDeferred = false;
  /** Waiting in the processor's queue. */
  queued = false;
  /** The iterator waiting for entries (lease.entries()). */
  wake: (() => void) | undefined;

  constructor(
    readonly lease: OwnedLease,
    readonly settings: ReadingSettings,
  ) {}

  get stream(): string {
    return this.lease.stream;
  }

  /** Whether a handler may start on it now. */
  get live(): boolean {
    return this.open && !this.closed && !this.lease.ended;
  }

  /** Now minus the time of the oldest entry read and not processed (0 when none). */
  lag(now = Date.now()): number {
    const oldest = this.current ?? this.buffer[0];
    return oldest ? Math.max(0, now - idTime(oldest.id)) : 0;
  }
}
