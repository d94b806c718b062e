import { z } from 'zod';
import type { ClientContext } from './context.js';

export interface FailureDetectorEvents {
  /** `consumerId`'s session has ended while it still held streams (or may have): take them over. */
  onPeerDead(consumerId: string): void;
  /** This consumer's own session key expired: its session must check at once. */
  onOwnSessionExpired(): void;
}

/** What one heartbeat's sweep found, with when it was sent and answered by this process's clock. */
export interface Sweep {
  readonly sentAt: number;
  readonly receivedAt: number;
  readonly serverNow: number;
  /** The earliest session deadline of any other consumer (server ms), or undefined when there is none. */
  readonly nextPeerDeadline: number | undefined;
  readonly deadPeers: readonly string[];
}

const consumersReply = z.array(z.array(z.union([z.string(), z.number()])));

/** Wake this long after a peer's deadline, so that its key has surely expired by Redis's clock. */
const DEADLINE_MARGIN_MS = 3;
/** The soonest a sweep is brought forward to, so that a deadline in the past cannot make the heartbeat spin. */
const MIN_SWEEP_DELAY_MS = 5;

/**
 * Learns that peers' sessions have ended, from three sources, and hands the takeover one signal for all of them:
 * the expiry event of a session key (keyspace notifications, or a sweep's announcement of it), the heartbeat's
 * sweep of overdue peers, and the reconcile after every (re)subscribe, when events may have been missed. It also
 * says when the next sweep is due: at the earliest peer deadline, so that a dead peer is noticed when its session
 * ends rather than up to a heartbeat later.
 */
export class FailureDetector {
  /** Server time minus local monotonic time, from the last sweep. */
  private clockOffset = 0;
  private nextPeerDeadline = Number.POSITIVE_INFINITY;

  constructor(
    private readonly context: Pick<ClientContext, 'redis' | 'keys' | 'consumerId'>,
    private readonly events: FailureDetectorEvents,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A session key expired. */
  expired(consumerId: string): void {
    if (consumerId === this.context.consumerId) this.events.onOwnSessionExpired();
    else this.events.onPeerDead(consumerId);
  }

  /** What a heartbeat's sweep found. */
  swept(sweep: Sweep): void {
    this.clockOffset = sweep.serverNow - (sweep.sentAt + sweep.receivedAt) / 2;
    this.nextPeerDeadline = sweep.nextPeerDeadline ?? Number.POSITIVE_INFINITY;
    for (const peer of sweep.deadPeers) this.events.onPeerDead(peer);
  }

  /** How long until the next sweep is due (ms, by this process's clock): `periodMs` at the most. */
  nextSweepIn(periodMs: number): number {
    const untilPeerDeadline = this.nextPeerDeadline - this.clockOffset - this.now() + DEADLINE_MARGIN_MS;
    return Math.max(MIN_SWEEP_DELAY_MS, Math.min(periodMs, untilPeerDeadline));
  }

  /** Reports every other consumer that holds entries (the takeover checks whether its session is gone): after a
   * (re)subscribe or a move, when an expiry may have gone unheard. */
  async reconcile(): Promise<void> {
    const { keys, consumerId } = this.context;
    const reply = consumersReply.parse(await this.context.redis.sendCommand(['XINFO', 'CONSUMERS', keys.lbs, keys.group]));
    for (const fields of reply) {
      // Field names at even places, values after them: a consumer may be named like a field.
      const consumer = new Map<string, string | number>();
      for (let i = 0; i + 1 < fields.length; i += 2) consumer.set(String(fields[i]), fields[i + 1]!);
      const name = String(consumer.get('name'));
      if (name !== consumerId && Number(consumer.get('pending')) > 0) this.events.onPeerDead(name);
    }
  }
}
