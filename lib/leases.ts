import type { StreamInfo, StreamLease } from './events.js';

export interface LeaseGrant {
  readonly stream: string;
  readonly lbsId: string;
  readonly info: StreamInfo;
  readonly token: number;
}

/** The streams this consumer owns, each with the AbortController behind its `signal`. */
export class LeaseRegistry {
  private readonly leases = new Map<string, { lease: StreamLease; controller: AbortController }>();

  constructor(private readonly consumerId: string) {}

  get size(): number {
    return this.leases.size;
  }

  /** Records a lease; one this replaces (the stream granted again) ends with its signal aborted. */
  add(grant: LeaseGrant, recovered: boolean): StreamLease {
    this.leases.get(grant.stream)?.controller.abort(new Error(`Stream "${grant.stream}" was granted again`));
    const controller = new AbortController();
    const lease: StreamLease = { ...grant, consumerId: this.consumerId, signal: controller.signal, recovered };
    this.leases.set(grant.stream, { lease, controller });
    return lease;
  }

  get(stream: string): StreamLease | undefined {
    return this.leases.get(stream)?.lease;
  }

  all(): StreamLease[] {
    return [...this.leases.values()].map(({ lease }) => lease);
  }

  /** Forgets a finished lease. */
  remove(stream: string): StreamLease | undefined {
    const entry = this.leases.get(stream);
    this.leases.delete(stream);
    return entry?.lease;
  }

  /** Ends every lease: aborts its signal with `reason` and forgets it. Returns the ended leases. */
  endAll(reason: Error): StreamLease[] {
    const ended = [...this.leases.values()];
    this.leases.clear();
    for (const { controller } of ended) controller.abort(reason);
    return ended.map(({ lease }) => lease);
  }
}
