/** How long a consumer held back above its fair share waits for the fleet to take something, before it takes anyway. */
export const HOLD_LIMIT_MS = 250;

/**
 * When a consumer that take.lua holds back above its fair share takes anyway. Holding back keeps the shares even
 * while the peers take, however slowly; it must not strand entries in the LBS when the peers take nothing (all at
 * maxStreams, stalled, their reader failing, or dead but not yet swept). So the consumer takes anyway once the fleet
 * has made no progress for HOLD_LIMIT_MS: each 'hold' reply carries the LBS group's last delivered id, which moves
 * whenever any consumer is delivered a new entry.
 *
 * The proof is what the replies show, not this process's clock alone: the id was first seen no later than its reply
 * came, and still seen no earlier than the latest look was sent. A late reply (a slow Redis, or this process
 * stalled, its peers in the same process with it) proves nothing about the time it was late.
 */
export class HoldBack {
  private stall: { progress: string; seenBy: number; stillAt: number } | undefined;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** A look sent at `sentAt` was held back, and found the LBS group's last delivered id at `progress` (the reply
   * has just come). */
  held(progress: string, sentAt: number): void {
    if (this.stall?.progress === progress) this.stall.stillAt = sentAt;
    else this.stall = { progress, seenBy: this.now(), stillAt: sentAt };
  }

  /** A take was not held back: a later hold starts afresh. */
  reset(): void {
    this.stall = undefined;
  }

  /** Whether the next take should ignore the fair share: the fleet has been seen taking nothing for HOLD_LIMIT_MS. */
  exceeded(): boolean {
    return this.stall !== undefined && this.stall.stillAt - this.stall.seenBy > HOLD_LIMIT_MS;
  }
}
