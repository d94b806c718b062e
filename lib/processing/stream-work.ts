import type { OwnedLease } from '../leases.js';
import type { ReadEntry } from './entry.js';
import type { ReadingSettings } from './run-options.js';
import { idTime } from './stream-id.js';

/** The buffer of every stream with nothing read: most streams, most of the time, need no array of their own. */
const NO_ENTRIES: readonly ReadEntry[] = Object.freeze([]);

const OPEN = 1;
const CLOSED = 2;
const FINISHED = 4;
const BUSY = 8;
const READ_DEFERRED = 16;
const QUEUED = 32;

/**
 * The processing state of one owned stream: where reading goes on from, what was read and not yet processed, and
 * what was processed and not yet committed. Small on purpose: a consumer may hold many thousands, most of them idle.
 */
export class StreamWork {
  /** Reading goes on after this id. */
  cursor = '0-0';
  /** Read, not yet handed to the handler, oldest first (add() and take() change it). */
  buffer: readonly ReadEntry[] = NO_ENTRIES;
  /** The entry handed to the handler (or yielded) and not yet processed. */
  current: ReadEntry | undefined;
  /** Id of the last processed entry, when not committed yet. */
  processed: string | undefined;
  /** Changes when the position is set from outside (setPosition): entries read before belong to the old place. */
  epoch = 0;
  /** The flags below, as bits of one number: a consumer may hold a hundred thousand of these. */
  private flags = 0;

  /** True once its position is loaded and reading may start. */
  get open(): boolean {
    return this.has(OPEN);
  }
  set open(on: boolean) {
    this.set(OPEN, on);
  }

  /** No more entries are handed out: the lease ended, or the stream is being finished. */
  get closed(): boolean {
    return this.has(CLOSED);
  }
  set closed(on: boolean) {
    this.set(CLOSED, on);
  }

  /** The stream is finished (doneStream, its end marker, dead-lettered): its position is deleted, never committed. */
  get finished(): boolean {
    return this.has(FINISHED);
  }
  set finished(on: boolean) {
    this.set(FINISHED, on);
  }

  /** A handler or the iterator is working on it (one at a time, in order). */
  get busy(): boolean {
    return this.has(BUSY);
  }
  set busy(on: boolean) {
    this.set(BUSY, on);
  }

  /** Woken while its buffer was full: read once the buffer has room. */
  get readDeferred(): boolean {
    return this.has(READ_DEFERRED);
  }
  set readDeferred(on: boolean) {
    this.set(READ_DEFERRED, on);
  }

  /** Waiting in the processor's queue. */
  get queued(): boolean {
    return this.has(QUEUED);
  }
  set queued(on: boolean) {
    this.set(QUEUED, on);
  }

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

  /** Adds entries read to the buffer; the array becomes the buffer's when it was empty (not to be used again). */
  add(entries: ReadEntry[]): void {
    if (this.buffer === NO_ENTRIES) this.buffer = entries;
    else (this.buffer as ReadEntry[]).push(...entries);
  }

  /** Takes the first `count` entries out of the buffer (all of them by default). */
  take(count = this.buffer.length): ReadEntry[] {
    if (count >= this.buffer.length) {
      const all = this.buffer as ReadEntry[];
      this.buffer = NO_ENTRIES;
      return all === NO_ENTRIES ? [] : all;
    }
    return (this.buffer as ReadEntry[]).splice(0, count);
  }

  private has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  private set(flag: number, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
  }

  /** Now minus the time of the oldest entry read and not processed (0 when none). */
  lag(now = Date.now()): number {
    const oldest = this.current ?? this.buffer[0];
    return oldest ? Math.max(0, now - idTime(oldest.id)) : 0;
  }
}
