import type { ClientContext } from './context.js';
import type { ExpiredStream } from './events.js';
import type { LeaseGrant } from './leases.js';
import { accept } from './scripts/accept.js';
import { decodeInfo } from './scripts/outcomes.js';
import type { Session } from './session.js';

export interface InboxEvents {
  /** A stream handed over and granted to this consumer (autoClaim mode). */
  onHanded(grant: LeaseGrant): void;
  /** A stream offered to this consumer by a live one (manual mode): to be announced as `streamExpired`. */
  onOffered(expired: ExpiredStream): void;
  onError(error: unknown): void;
}

/** Items taken per call. */
const ACCEPT_BATCH = 1000;

/**
 * The receiving end of hand-offs: what other consumers handed over to this one waits in its inbox (handoff.lua) and
 * is accepted as soon as the giver's message arrives on the subscriber connection, or, should that message be lost
 * (a reconnect), at the next heartbeat that finds the inbox not empty.
 */
export class Inbox {
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly events: InboxEvents,
  ) {}

  /** Accepts what waits in the inbox; a check asked for while one runs makes it go round once more. */
  check(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.acceptAll()
      .catch((error: unknown) => this.events.onError(error))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.check();
        }
      });
  }

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
  }

  private async acceptAll(): Promise<void> {
    for (;;) {
      const incarnation = this.session.incarnation();
      // Not valid now: the next heartbeat looks again (or the next incarnation takes everything back).
      if (this.stopped || !incarnation.isCurrent()) return;
      const result = await accept(this.context.scripts, this.context, { nonce: incarnation.nonce, most: ACCEPT_BATCH });
      // Accepted for an incarnation that ended meanwhile: the entries are pending under this consumer with no lease,
      // and are taken back by the next incarnation, or as strays.
      if (result.lost || !incarnation.isCurrent()) return;
      for (const handed of result.handed) {
        const { lbsId, stream } = handed;
        const info = decodeInfo(handed.raw, { lbsId, stream }, (error) => this.events.onError(error));
        if (handed.kind === 'handoff') {
          this.events.onHanded({ stream, lbsId, info, token: handed.token, origin: 'handoff', handedAt: handed.membership });
        } else {
          this.events.onOffered(Object.freeze({ stream, lbsId, info, previousOwner: handed.from }));
        }
      }
      if (result.left === 0) return;
    }
  }
}
