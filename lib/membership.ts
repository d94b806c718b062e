import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientContext } from './context.js';
import type { HandOver, HandOverResult } from './hand-over.js';
import type { OwnedStreams } from './owned-streams.js';
import type { MemberRecord } from './scripts/register.js';
import { updateMember } from './scripts/update-member.js';
import type { Session } from './session.js';

/** While draining with nobody to receive, how often to look again for room among the others. */
const DRAIN_POLL_MS = 250;

/**
 * What the fleet knows of this consumer (the member record: weight, maxStreams, mode, draining), and draining
 * itself: out of the shares, taking nothing new, handing everything over.
 */
export class Membership {
  private isDraining = false;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly streams: OwnedStreams,
    private readonly handOver: HandOver,
  ) {}

  /** drain() (or close()) was called and resume() not since: no new streams, takeovers or shares. */
  get draining(): boolean {
    return this.isDraining;
  }

  /** The member record, as register.lua and update-member.lua write it. */
  record(): MemberRecord {
    const { weight, maxStreams, autoClaim } = this.context.options;
    return { weight, ...(maxStreams < Number.MAX_SAFE_INTEGER ? { max: maxStreams } : {}), auto: autoClaim, draining: this.isDraining };
  }

  /** Tells the fleet whether this consumer drains (a change of membership: the shares are computed again). */
  async setDraining(draining: boolean): Promise<void> {
    this.isDraining = draining;
    const incarnation = this.session.incarnation();
    // Not current: the next incarnation registers the record as it is then.
    if (incarnation.isCurrent()) await updateMember(this.context.scripts, this.context, incarnation.nonce, this.record());
  }

  /**
   * Hands over, as the others have room for it, every stream owned, until none is left, the time is up, or draining
   * ends (resume(), or `stillDraining` says the client stopped).
   */
  async handOverAll(timeoutMs: number, stillDraining: () => boolean): Promise<HandOverResult> {
    const deadline = performance.now() + timeoutMs;
    let handedOver = 0;
    while (stillDraining() && this.isDraining && this.streams.size > 0) {
      const room = await this.handOver.room();
      if (room > 0) {
        handedOver += (await this.handOver.give(this.streams.all().slice(0, room), 'drain')).handedOver;
        continue;
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      await sleep(Math.min(DRAIN_POLL_MS, left));
    }
    return { handedOver, kept: this.streams.all() };
  }
}
