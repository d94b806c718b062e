import type { LeaseOrigin, ReleaseReason } from './events.js';

/** Upper bounds of the heartbeat round-trip and processing histograms' buckets, in ms (then +Inf). */
export const ROUND_TRIP_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
export const PROCESSING_BUCKETS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];
/** Upper bounds of the lag histogram's buckets, in ms (then +Inf). */
export const LAG_BUCKETS_MS: readonly number[] = [10, 100, 1000, 5000, 15_000, 60_000, 300_000, 900_000, 3_600_000];

/** A histogram as Prometheus reads one: the count of observations at or below each bound, their count and sum. */
export interface HistogramSnapshot {
  /** Cumulative: `count` is how many observations were at most `le` (the last bound is Infinity). */
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>;
  readonly count: number;
  readonly sum: number;
}

/**
 * What `client.metrics()` returns: counters since the client was created, and gauges of now. Labels are never
 * stream names: a fleet of thousands of streams keeps a handful of series per consumer.
 */
export interface MetricsSnapshot {
  /** Whose figures these are: the service and this consumer's id (the labels of `redis-stream-client/prometheus`). */
  readonly service: string;
  readonly consumer: string;
  /** Streams owned now. */
  readonly owned: number;
  /** Streams this consumer came to own, by how: new from the LBS, taken over, handed over, taken back on restart
   * (`lease.origin`), those claim() returned included. */
  readonly acquired: Readonly<Record<LeaseOrigin, number>>;
  /** Streams given away (`streamReleased`), by reason. */
  readonly released: Readonly<Record<ReleaseReason, number>>;
  /** Streams lost without being given up (`streamDisowned`: a stall, an outage, a later owner). */
  readonly lost: number;
  /** Takeover claims (claim.lua outcomes, one per stream): won, or lost (another consumer won, the owner lives, the
   * entry is gone or was dead-lettered). */
  readonly claims: { readonly won: number; readonly lost: number };
  /** Entries moved to a dead-letter stream, by kind: malformed or poison LBS entries (DeadLetterError), data entries
   * whose handler kept failing (EntryDeadLetterError). */
  readonly deadLetters: { readonly lbs: number; readonly entry: number };
  readonly heartbeat: {
    /** From sending a heartbeat to its reply, for every heartbeat that extended the session. */
    readonly roundTripMs: HistogramSnapshot;
    /** How much of the validity window was left when the last heartbeat's reply came (undefined before one): near 0
     * means the session nearly ended. */
    readonly validityMarginMs: number | undefined;
  };
  /** Under run(): handler calls and what they were given (a batch of eachBatch counts its entries). */
  readonly processing: {
    /** Entries whose handler call returned. */
    readonly processed: number;
    /** Entries whose handler call threw (each attempt counts). */
    readonly failed: number;
    /** Entries given to the handler again after it threw. */
    readonly retried: number;
    /** How long handler calls took, returned or thrown. */
    readonly durationMs: HistogramSnapshot;
    /** Entries read and not handed to the handler yet (see maxBufferedEntries). */
    readonly buffered: number;
    /** How far behind the owned streams are: now minus the time (from its id) of each stream's oldest entry read and
     * not processed; 0 for a stream with nothing waiting. Entries not read yet do not count. */
    readonly lagMs: { readonly max: number; readonly streams: HistogramSnapshot };
  };
}

/**
 * Told of each observation a histogram of the snapshot takes, as it happens: for exporters whose histograms are
 * recorded, not read (OpenTelemetry has no observable histogram). Called synchronously on the client's own paths
 * (a heartbeat's reply, a handler's return), so it must be quick; what it throws is reported through `error`.
 */
export interface MetricsObserver {
  /** A heartbeat that extended the session, from sending it to its reply. */
  heartbeat?(roundTripMs: number): void;
  /** A handler call under run() that returned ('processed') or threw ('failed'), for `entries` entries. */
  handled?(entries: number, ms: number, outcome: 'processed' | 'failed'): void;
}

/**
 * The key of the client's method that adds a MetricsObserver (and returns its removal): what
 * `redis-stream-client/otel` reaches the client's metrics through, without a public method for it. Symbol.for, so
 * that every copy of this module (the ESM and the CommonJS bundle, each entry point's) names the same method.
 */
export const METRICS_OBSERVERS: unique symbol = Symbol.for('redis-stream-client.metrics-observers');

class Histogram {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const index = this.bounds.findIndex((bound) => value <= bound);
    this.counts[index === -1 ? this.bounds.length : index]! += 1;
    this.count += 1;
    this.sum += value;
  }

  snapshot(): HistogramSnapshot {
    let cumulative = 0;
    const buckets = [...this.bounds, Number.POSITIVE_INFINITY].map((le, i) => {
      cumulative += this.counts[i]!;
      return { le, count: cumulative };
    });
    return { buckets, count: this.count, sum: this.sum };
  }
}

/** Collects the client's metrics as its parts report what happened; read through `client.metrics()`. */
export class ClientMetrics {
  private readonly acquiredBy: Record<LeaseOrigin, number> = { new: 0, takeover: 0, handoff: 0, restart: 0 };
  private readonly releasedFor: Record<ReleaseReason, number> = { rebalance: 0, drain: 0, close: 0 };
  private lostCount = 0;
  private readonly claimCounts = { won: 0, lost: 0 };
  private readonly deadLetterCounts = { lbs: 0, entry: 0 };
  private readonly roundTrip = new Histogram(ROUND_TRIP_BUCKETS_MS);
  private validityMarginMs: number | undefined;
  private readonly handlerCounts = { processed: 0, failed: 0, retried: 0 };
  private readonly handlerDuration = new Histogram(PROCESSING_BUCKETS_MS);
  /** Undefined while nobody observes: the paths that record then pay for one check. Replaced, never changed in
   * place, so that an observer removed while the others are told does not skip one. */
  private observers: readonly MetricsObserver[] | undefined;

  /** @param report where what an observer throws goes (the client's `error` event). */
  constructor(private readonly report: (error: unknown) => void = () => undefined) {}

  /** Adds an observer of the histograms' observations; returns what removes it. */
  observe(observer: MetricsObserver): () => void {
    this.observers = [...(this.observers ?? []), observer];
    return () => {
      const rest = (this.observers ?? []).filter((other) => other !== observer);
      this.observers = rest.length > 0 ? rest : undefined;
    };
  }

  private tell(call: (observer: MetricsObserver) => void): void {
    for (const observer of this.observers ?? []) {
      try {
        call(observer);
      } catch (error) {
        // A fault of the exporter must not break a heartbeat or a handler's bookkeeping.
        this.report(error);
      }
    }
  }

  acquired(origin: LeaseOrigin): void {
    this.acquiredBy[origin] += 1;
  }

  released(reason: ReleaseReason): void {
    this.releasedFor[reason] += 1;
  }

  lost(): void {
    this.lostCount += 1;
  }

  claimed(won: number, lost: number): void {
    this.claimCounts.won += won;
    this.claimCounts.lost += lost;
  }

  deadLettered(kind: 'lbs' | 'entry'): void {
    this.deadLetterCounts[kind] += 1;
  }

  heartbeat(roundTripMs: number, validityMarginMs: number): void {
    this.roundTrip.observe(roundTripMs);
    this.validityMarginMs = validityMarginMs;
    if (this.observers !== undefined) this.tell((observer) => observer.heartbeat?.(roundTripMs));
  }

  handled(entries: number, ms: number, outcome: 'processed' | 'failed'): void {
    this.handlerDuration.observe(ms);
    this.handlerCounts[outcome] += entries;
    if (this.observers !== undefined) this.tell((observer) => observer.handled?.(entries, ms, outcome));
  }

  retried(entries: number): void {
    this.handlerCounts.retried += entries;
  }

  /** `backlog`: what processing holds now (buffered entries, the lag of each stream it processes). */
  snapshot(
    owned: number,
    backlog: { buffered: number; lagsMs: readonly number[] } = { buffered: 0, lagsMs: [] },
  ): Omit<MetricsSnapshot, 'service' | 'consumer'> {
    const lags = new Histogram(LAG_BUCKETS_MS);
    for (const lag of backlog.lagsMs) lags.observe(lag);
    return {
      owned,
      acquired: { ...this.acquiredBy },
      released: { ...this.releasedFor },
      lost: this.lostCount,
      claims: { ...this.claimCounts },
      deadLetters: { ...this.deadLetterCounts },
      heartbeat: { roundTripMs: this.roundTrip.snapshot(), validityMarginMs: this.validityMarginMs },
      processing: {
        ...this.handlerCounts,
        durationMs: this.handlerDuration.snapshot(),
        buffered: backlog.buffered,
        lagMs: { max: backlog.lagsMs.reduce((max, lag) => Math.max(max, lag), 0), streams: lags.snapshot() },
      },
    };
  }
}
