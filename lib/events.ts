import type { RedisStreamClientError } from './errors.js';
import type { StreamEntry } from './processing/entry.js';
import type { EntriesOptions } from './processing/run-options.js';

/** Free-form data the producer attached to a stream (`Info` of the LBS entry). */
export type StreamInfo = Record<string, unknown>;

/**
 * Where a lease came from: `'new'` from the LBS; `'takeover'` from a dead consumer (autoClaim, or `claim()`);
 * `'handoff'` from a live consumer (rebalancing, `drain()`, `close()`); `'restart'` from this consumer id's own
 * earlier lease (after a stall or a restart, or a hand-off that found nobody to receive the stream).
 */
export type LeaseOrigin = 'new' | 'takeover' | 'handoff' | 'restart';

/** Why this consumer gave a stream up: to even out shares, for `drain()`, or for `close()`. */
export type ReleaseReason = 'rebalance' | 'drain' | 'close';

/** A stream this consumer handed over to another consumer (or, closing, left for the others). */
export interface ReleasedStream {
  /** The lease given up; its signal is aborted before the event. */
  readonly lease: StreamLease;
  readonly reason: ReleaseReason;
}

/** A stream this consumer owns. */
export interface StreamLease {
  /** Name of the data stream: read it with XREAD or XREADGROUP. */
  readonly stream: string;
  /** Id of the LBS entry through which the stream is owned. */
  readonly lbsId: string;
  readonly info: StreamInfo;
  /** Fencing token: strictly greater than the token of every earlier grant of this stream (and of any other
   * stream of the service). Pass it with writes downstream so that a store can refuse a stale owner. */
  readonly token: number;
  readonly consumerId: string;
  /** Aborted when the lease ends without `doneStream`: lost (`streamDisowned`) or given up (`streamReleased`). */
  readonly signal: AbortSignal;
  /** Where the lease came from. */
  readonly origin: LeaseOrigin;
  /** `origin !== 'new'`: the stream was owned before (by a dead or live consumer, or this one's earlier lease). */
  readonly recovered: boolean;
  /**
   * The stream's entries, from the position its last owner committed (or per `startAt`). Asking for the next entry
   * marks the one before processed, and positions are committed every `commitIntervalMs`. Ends when the lease ends
   * or the stream is finished. Leaving the loop early does not mark the last entry processed. Once per lease, and
   * not while `client.run()` is registered (then run() processes every lease).
   */
  entries(options?: EntriesOptions): AsyncIterableIterator<StreamEntry>;
  /** Now minus the time of the oldest entry read and not yet processed, in ms (0 when caught up or not read). */
  lag(): number;
}

/** A stream whose owner died: claim it with `client.claim(expired)`. */
export interface ExpiredStream {
  readonly stream: string;
  readonly lbsId: string;
  readonly info: StreamInfo;
  readonly previousOwner: string;
}

/** The events of `RedisStreamClient`. Listeners that throw or reject are reported through `error`. */
export interface RedisStreamClientEvents {
  /** A stream is now owned by this consumer: new from the LBS, taken over, handed over, or taken back (`lease.origin`). */
  streamAdded: (lease: StreamLease) => void;
  /** A stream's owner died and nobody owns it: claim it, or leave it to a peer. Reported first to one consumer
   * chosen by a stable hash, then, if still unclaimed shortly after, to the others. */
  streamExpired: (expired: ExpiredStream) => void;
  /** This consumer lost a stream (it stalled or lost Redis past its lease): stop working on it. `lease.signal`
   * is aborted before this event. */
  streamDisowned: (lease: StreamLease) => void;
  /** This consumer gave a stream up (rebalancing, `drain()`, `close()`): it stopped reading it, waited for the
   * handlers under way (`releaseTimeoutMs`), committed its position and aborted `lease.signal`; the stream is
   * handed to another consumer, which goes on from that position. */
  streamReleased: (released: ReleasedStream) => void;
  /** Something went wrong that the client handles or retries: Redis errors, dead-lettered entries
   * (`DeadLetterError`), failing listeners. The client keeps running. */
  error: (error: RedisStreamClientError) => void;
}
