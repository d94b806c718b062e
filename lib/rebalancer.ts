import type { ClientContext } from './context.js';
import type { HandOver } from './hand-over.js';
import type { OwnedLease } from './leases.js';

export interface RebalancerDeps {
  readonly handOver: HandOver;
  owned(): OwnedLease[];
  /** Whether a takeover is under way here: rebalancing waits for it. */
  takingOver(): boolean;
  /** Whether this consumer drains. */
  draining(): boolean;
  onError(error: unknown): void;
}

/**
 * Evens out the fleet's shares from this consumer's side: every heartbeat tells how many streams it should give away
 * (shares.lua: above its fair share beyond the tolerance, or above it while another is short beyond it; capped by
 * what the others may be handed), and it hands that many over, one round at a time. Receivers are handed streams only
 * up to their share, so they never give back what they received; and a stream handed over is not moved on before the
 * membership changes again: no ping-pong.
 */
/** Compute the excess at least every this many heartbeats: streams finished unevenly move the shares without any
 * change of membership. */
const RECHECK_HEARTBEATS = 10;

export class Rebalancer {
  private round: Promise<void> | undefined;
  /** The membership counter when the excess was last computed, and what it was. */
  private seen: { membership: number; excess: number } | undefined;
  private heartbeatsSinceComputed = 0;

  constructor(
    private readonly context: ClientContext,
    private readonly deps: RebalancerDeps,
  ) {}

  /** What a heartbeat found: the membership counter, and how many streams to give away now. Draining, that is what
   * this consumer came to own after drain() (a grant on its way then, say), whether it rebalances or not. */
  heartbeat(membership: number, excess: number | undefined): void {
    if (excess === undefined) {
      this.heartbeatsSinceComputed += 1;
      return;
    }
    this.seen = { membership, excess };
    this.heartbeatsSinceComputed = 0;
    if (this.round || excess <= 0 || this.deps.takingOver()) return;
    const draining = this.deps.draining();
    if (!draining && !this.context.options.rebalance) return;
    const leases = draining ? this.deps.owned().slice(0, excess) : this.pick(membership, excess);
    if (leases.length === 0) return;
    this.context.log.debug('Handing streams over', { count: leases.length, reason: draining ? 'drain' : 'rebalance' });
    this.round = this.deps.handOver
      .give(leases, draining ? 'drain' : 'rebalance')
      .then(() => undefined, (error: unknown) => this.deps.onError(error))
      .finally(() => {
        this.round = undefined;
      });
  }

  /**
   * What the next heartbeat asks: the membership counter the excess was last computed at (the heartbeat computes it
   * again only when that changed), or undefined to have it computed in any case: at first, after an excess (one round
   * may not have been enough), while draining, and every RECHECK_HEARTBEATS heartbeats.
   */
  sharesSeenAt(): number | undefined {
    const seen = this.seen;
    if (!seen || seen.excess > 0 || this.deps.draining() || this.heartbeatsSinceComputed >= RECHECK_HEARTBEATS) return undefined;
    return seen.membership;
  }

  /** Resolves when the round under way (if any) has ended. */
  async settled(): Promise<void> {
    await this.round;
  }

  /** The streams to give: not handed here since the membership last changed, least behind first (their handlers are
   * the likeliest to be idle, so the hand-off waits least). */
  private pick(membership: number, count: number): OwnedLease[] {
    const movable = this.deps.owned().filter((lease) => lease.handedAt !== membership);
    if (movable.length <= count) return movable;
    return movable
      .map((lease) => ({ lease, lag: lease.lag() }))
      .sort((a, b) => a.lag - b.lag)
      .slice(0, count)
      .map(({ lease }) => lease);
  }
}
