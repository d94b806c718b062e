import type { LeaseOrigin, StreamInfo, StreamLease } from './events.js';
import type { StreamEntry } from './processing/entry.js';
import type { EntriesOptions } from './processing/run-options.js';

/** What leases ask of the processing, and tell it: the iterator, the lag, and that a lease is gone. */
export interface LeaseHost {
  entries(lease: OwnedLease, options: EntriesOptions | undefined): AsyncIterableIterator<StreamEntry>;
  lag(lease: OwnedLease): number;
  /** A new lease: process it, if everything is processed. */
  added(lease: OwnedLease): void;
  /** The lease ended or its stream was finished: stop processing it. */
  gone(lease: OwnedLease): void;
}

/** Until the processing is attached (and in the registry's own specs): no entries, no lag. */
const noProcessing: LeaseHost = {
  entries: () => {
    throw new Error('This lease cannot be read: the client has no processing attached');
  },
  lag: () => 0,
  added: () => undefined,
  gone: () => undefined,
};

export interface LeaseGrant {
  readonly stream: string;
  readonly lbsId: string;
  readonly info: StreamInfo;
  readonly token: number;
  readonly origin: LeaseOrigin;
  /** The membership counter when the stream was handed over to this consumer: rebalancing does not move it on
   * before the membership changes again. */
  readonly handedAt?: number;
}

/**
 * A lease. Its AbortController is made on the first read of `signal`: most of a lease's memory would otherwise be
 * the controller, and a consumer may hold a hundred thousand leases whose signals nobody reads.
 */
export class OwnedLease implements StreamLease {
  private controller: AbortController | undefined;
  private endedBy: Error | undefined;

  constructor(
    readonly stream: string,
    readonly lbsId: string,
    readonly info: StreamInfo,
    readonly token: number,
    readonly consumerId: string,
    readonly origin: LeaseOrigin,
    /** See LeaseGrant. */
    readonly handedAt: number | undefined,
    private readonly host: LeaseHost,
  ) {}

  get recovered(): boolean {
    return this.origin !== 'new';
  }

  /** Whether the lease has ended (lost, given up or replaced), without making its signal. */
  get ended(): boolean {
    return this.endedBy !== undefined;
  }

  entries(options?: EntriesOptions): AsyncIterableIterator<StreamEntry> {
    return this.host.entries(this, options);
  }

  lag(): number {
    return this.host.lag(this);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.endedBy) this.controller.abort(this.endedBy);
    }
    return this.controller.signal;
  }

  /** Ends the lease: its signal is (or, once read, will be) aborted with `reason`. */
  end(reason: Error): void {
    if (this.endedBy) return;
    this.endedBy = reason;
    this.controller?.abort(reason);
  }
}

/** The streams this consumer owns. */
export class LeaseRegistry {
  private readonly leases = new Map<string, OwnedLease>();

  constructor(
    private readonly consumerId: string,
    private host: LeaseHost = noProcessing,
  ) {}

  /** Attaches the processing: leases made from now on are read through it. */
  attach(host: LeaseHost): void {
    this.host = host;
  }

  get size(): number {
    return this.leases.size;
  }

  /**
   * Records a lease; one this replaces (the stream granted again) ends with its signal aborted. A grant older than
   * the lease held (a lower token: its reply came late, after the entry was taken back with a new token) is stale:
   * nothing changes, and undefined is returned.
   */
  add(grant: LeaseGrant): OwnedLease | undefined {
    const held = this.leases.get(grant.stream);
    if (held && held.token > grant.token) return undefined;
    if (held) this.endOne(held, new Error(`Stream "${grant.stream}" was granted again`));
    const lease = new OwnedLease(grant.stream, grant.lbsId, grant.info, grant.token, this.consumerId, grant.origin, grant.handedAt, this.host);
    this.leases.set(grant.stream, lease);
    this.host.added(lease);
    return lease;
  }

  get(stream: string): OwnedLease | undefined {
    return this.leases.get(stream);
  }

  all(): OwnedLease[] {
    return [...this.leases.values()];
  }

  /** Forgets a finished lease (its signal is not aborted: the stream's work is done). */
  remove(stream: string): OwnedLease | undefined {
    const lease = this.leases.get(stream);
    this.leases.delete(stream);
    if (lease) this.host.gone(lease);
    return lease;
  }

  /** Ends one lease (lost): aborts its signal with `reason` and forgets it. */
  end(stream: string, reason: Error): OwnedLease | undefined {
    const lease = this.leases.get(stream);
    if (!lease) return undefined;
    this.leases.delete(stream);
    this.endOne(lease, reason);
    return lease;
  }

  /** Ends every lease: aborts its signal with `reason` and forgets it. Returns the ended leases. */
  endAll(reason: Error): OwnedLease[] {
    const ended = [...this.leases.values()];
    this.leases.clear();
    for (const lease of ended) this.endOne(lease, reason);
    return ended;
  }

  private endOne(lease: OwnedLease, reason: Error): void {
    lease.end(reason);
    this.host.gone(lease);
  }
}
