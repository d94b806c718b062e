import type { ClientContext } from './context.js';
import { RedisStreamClientError } from './errors.js';
import type { ExpiredStream, StreamInfo } from './events.js';
import type { LeaseGrant } from './leases.js';
import { decodeHandoff } from './scripts/handoff.js';
import type { Session } from './session.js';

export interface InboxEvents {
  /** A stream handed over and granted to this consumer (autoClaim mode). */
  onHanded(grant: LeaseGrant): void;
  /** A stream offered to this consumer by a live one (manual mode): to be announced as `streamExpired`. */
  onOffered(expired: ExpiredStream): void;
  onError(error: unknown): void;
}

/**
 * The receiving end of hand-offs: handoff.lua tells each receiver what it was handed in one message on the receiver's
 * session key's channel, and the receiver owns the streams from that message alone, without asking Redis again. A
 * message made for another incarnation of this consumer, or arriving while its session is not valid, is left alone:
 * the entries are pending under this consumer with no lease here, and the next incarnation (recover.lua) or the
 * self-check takes them back. So does a message lost with a reconnect.
 */
export class Inbox {
  private stopped = true;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly events: InboxEvents,
  ) {}

  start(): void {
    this.stopped = false;
  }

  stop(): void {
    this.stopped = true;
  }

  /** A `handoff:` message for this consumer. */
  received(message: string): void {
    const handoff = decodeHandoff(message);
    if (!handoff) {
      this.events.onError(new RedisStreamClientError(`A hand-off message could not be decoded and was ignored: ${message.slice(0, 200)}`));
      return;
    }
    const incarnation = this.session.incarnation();
    if (this.stopped || handoff.nonce !== incarnation.nonce || !incarnation.isCurrent()) {
      this.context.log.debug('Hand-off left for the self-check: not for this incarnation now', { giver: handoff.giver });
      return;
    }
    for (const { lbsId, stream, token, info } of handoff.streams) {
      const decoded = this.info(info, lbsId, stream);
      if (token === undefined) this.events.onOffered(Object.freeze({ stream, lbsId, info: decoded, previousOwner: handoff.giver }));
      else this.events.onHanded({ stream, lbsId, info: decoded, token, origin: 'handoff', handedAt: handoff.membership });
    }
  }

  /** The stream's Info, as the giver held it; `{}` (reported) when it does not decode. */
  private info(text: string, lbsId: string, stream: string): StreamInfo {
    try {
      const info: unknown = JSON.parse(text);
      if (typeof info === 'object' && info !== null && !Array.isArray(info)) return info as StreamInfo;
    } catch {
      // reported below
    }
    this.events.onError(new RedisStreamClientError(`LBS entry ${lbsId} (stream ${JSON.stringify(stream)}): the Info handed over could not be decoded; the stream is owned with info {}`));
    return {};
  }
}
