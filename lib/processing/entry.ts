import type { StreamLease } from '../events.js';

/** An entry of an owned data stream, as handed to `eachEntry` or yielded by `lease.entries()`. */
export interface StreamEntry {
  readonly stream: string;
  /** The entry's stream id. */
  readonly id: string;
  /** The entry's fields; when a field name repeats within the entry, the last value wins. */
  readonly fields: Record<string, string>;
  /** The fencing token of the lease under which it is processed: pass it with writes downstream. */
  readonly token: number;
  /** Which call of the handler this is for the entry, from 1; it starts again at 1 with each owner. */
  readonly attempt: number;
}

/** Consecutive entries of one owned stream, as handed to `eachBatch`. */
export interface StreamBatch {
  readonly stream: string;
  readonly entries: readonly StreamEntry[];
  readonly token: number;
}

export type EachEntry = (entry: StreamEntry, lease: StreamLease) => unknown;
export type EachBatch = (batch: StreamBatch, lease: StreamLease) => unknown;

/** An entry as read: its id and fields. */
export interface ReadEntry {
  readonly id: string;
  readonly fields: Record<string, string>;
}
