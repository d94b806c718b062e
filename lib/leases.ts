import type { StreamInfo, StreamLease } from './events.js';

export interface LeaseGrant {
  readonly stream: string;
  readonly lbsId: string;
  readonly info: StreamInfo;
  readonly token: number;
}

/**
 * A lease. Its AbortController is made on the first read of `signal`: most of a lease's memory would otherwise be
 * the controller, and a consumer may hold a hundred thousand leases whose signals nobody reads.
 */
class Lease implements StreamLease {
  private controller: AbortController | undefined;
  private endedBy: Error | undefined;

  constructor(
    readonly stream: string,
    readonly lbsId: string,
    readonly info: StreamInfo,
    readonly token: number,
    readonly consumerId: string,
    readonly recovered: boolean,
  ) {}

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
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly consumerId: string) {}

  get size(): number {
    return this.leases.size;
  }

  /**
   * Records a lease; one this replaces (the stream granted again) ends with its signal aborted. A grant older than
   * the lease held (a lower token: its reply came late, after the entry was taken back with a new token) is stale:
   * nothing changes, and undefined is returned.
   */
  add(grant: LeaseGrant, recovered: boolean): StreamLease | undefined {
    const held = this.leases.get(grant.stream);
    if (held && held.token > grant.token) return undefined;
    held?.end(new Error(`Stream "${grant.stream}" was granted again`));
    const lease = new Lease(grant.stream, grant.lbsId, grant.info, grant.token, this.consumerId, recovered);
    this.leases.set(grant.stream, lease);
    return lease;
  }

  get(stream: string): StreamLease | undefined {
    return this.leases.get(stream);
  }

  all(): StreamLease[] {
    return [...this.leases.values()];
  }

  /** Forgets a finished lease. */
  remove(stream: string): StreamLease | undefined {
    const lease = this.leases.get(stream);
    this.leases.delete(stream);
    return lease;
  }

  /** Ends every lease: aborts its signal with `reason` and forgets it. Returns the ended leases. */
  endAll(reason: Error): StreamLease[] {
    const ended = [...this.leases.values()];
    this.leases.clear();
    for (const lease of ended) lease.end(reason);
    return ended;
  }
}
