/**
 * How long this consumer may act on its leases, from its own monotonic clock: a session extended by a call sent
 * at `sentAt` is valid until `sentAt + ttl - drift`, whatever the reply's delay (the redlock rule). Redis may
 * keep the session a little longer; never the other way round.
 */
export class ValidityWindow {
  private validUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Clock drift allowance: 1% of the ttl plus 2 ms, as redlock does. */
  get driftMs(): number {
    return Math.floor(this.ttlMs * 0.01) + 2;
  }

  /** Records a successful extend whose request was sent at `sentAt`. */
  extended(sentAt: number): void {
    this.validUntil = Math.max(this.validUntil, sentAt + this.ttlMs - this.driftMs);
  }

  invalidate(): void {
    this.validUntil = Number.NEGATIVE_INFINITY;
  }

  isValid(): boolean {
    return this.now() < this.validUntil;
  }

  /** Milliseconds until the window ends (0 when it has). */
  remainingMs(): number {
    return Math.max(0, this.validUntil - this.now());
  }
}
