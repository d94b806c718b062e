import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ClientContext } from './context.js';
import { DeadLetterError, SessionLostError, type ClaimRefusal } from './errors.js';
import type { ExpiredStream } from './events.js';
import { decodeInfo } from './grants.js';
import { sessionKey } from './keys.js';
import type { LeaseGrant } from './leases.js';
import { preferredConsumer } from './rendezvous.js';
import type { Session } from './session.js';

export interface TakeoverEvents {
  /** Manual mode: a stream of a dead peer to report. */
  onExpired(expired: ExpiredStream): void;
  /** autoClaim mode: a stream of a dead peer this consumer claimed. */
  onClaimed(grant: LeaseGrant): void;
  onError(error: unknown): void;
}

const orphansReply = z.union([
  z.tuple([z.literal('alive')]),
  z.tuple([z.literal('orphaned'), z.string(), z.array(z.string())]).rest(z.tuple([z.string(), z.string(), z.string()])),
]);
const claimReply = z.union([
  z.tuple([z.enum(['lost', 'alive'])]),
  z.tuple([z.literal('ok')]).rest(z.union([z.number(), z.enum(['taken', 'mismatch', 'duplicate', 'poison'])])),
]);

/** The error reported when a stream's owners kept dying and it went to the dead-letter stream. */
export function poisoned(expired: ExpiredStream, maxDeliveries: number): DeadLetterError {
  return new DeadLetterError(expired.lbsId, `stream "${expired.stream}": its owners died ${maxDeliveries} times (maxDeliveries)`);
}

const consumersReply = z.array(z.array(z.union([z.string(), z.number()])));

const PAGE_SIZE = 1000;
const CLAIM_BATCH = 200;

/**
 * Takes over the streams of dead peers. Each survivor first acts on the streams that rendezvous hashing gives it,
 * so survivors split the work instead of racing for every stream; after a grace period it acts on whatever is
 * still unclaimed, in case the preferred survivor is itself gone or declined.
 */
export class Takeover {
  /** Peers being handled; true when another report came in meanwhile and calls for one more pass. */
  private readonly running = new Map<string, boolean>();
  private readonly graceMs: number;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly events: TakeoverEvents,
  ) {
    this.graceMs = Math.min(250, Math.round(context.options.heartbeatMs / 4));
  }

  /** Reports or claims the streams of `previousOwner`, whose session has ended. */
  handle(previousOwner: string): void {
    if (previousOwner === this.context.consumerId) return;
    if (this.running.has(previousOwner)) {
      this.running.set(previousOwner, true);
      return;
    }
    this.running.set(previousOwner, false);
    this.takeOver(previousOwner)
      .catch((error: unknown) => this.events.onError(error))
      .finally(() => {
        const again = this.running.get(previousOwner);
        this.running.delete(previousOwner);
        if (again) this.handle(previousOwner);
      });
  }

  /** Hands every consumer that holds entries to the takeover: after a resubscribe or at start, when a death may
   * have gone unheard (the takeover itself checks that each one's session is gone). */
  async reconcile(): Promise<void> {
    const { keys, consumerId } = this.context;
    const reply = consumersReply.parse(await this.context.redis.sendCommand(['XINFO', 'CONSUMERS', keys.lbs, keys.group]));
    for (const fields of reply) {
      const name = String(fields[fields.indexOf('name') + 1]);
      const pending = Number(fields[fields.indexOf('pending') + 1]);
      if (name !== consumerId && pending > 0) this.handle(name);
    }
  }

  /** Claims entries of one previous owner: a fencing token, or why not, for each. */
  async claim(previousOwner: string, streams: readonly ExpiredStream[]): Promise<Array<number | ClaimRefusal>> {
    const { keys, consumerId, options } = this.context;
    const outcomes: Array<number | ClaimRefusal> = [];
    for (let i = 0; i < streams.length; i += CLAIM_BATCH) {
      const batch = streams.slice(i, i + CLAIM_BATCH);
      const reply = claimReply.parse(
        await this.context.scripts.run(
          'claim',
          [
            keys.lbs,
            sessionKey(keys, consumerId),
            sessionKey(keys, previousOwner),
            keys.owners,
            keys.loads,
            keys.token,
            keys.released,
            keys.deadLetter,
          ],
          [
            keys.group,
            consumerId,
            this.session.currentNonce,
            previousOwner,
            options.maxEntryBytes,
            options.maxDeliveries,
            ...batch.flatMap((expired) => [expired.lbsId, expired.stream]),
          ],
        ),
      );
      if (reply[0] === 'lost') throw new SessionLostError('This consumer has lost its session; it cannot claim');
      if (reply[0] === 'alive') return streams.map(() => 'owner-alive');
      outcomes.push(...(reply.slice(1) as Array<number | ClaimRefusal>));
    }
    return outcomes;
  }

  private async takeOver(previousOwner: string): Promise<void> {
    const first = await this.orphans(previousOwner);
    if (!first) return;
    const me = this.context.consumerId;
    const live = first.live.includes(me) ? first.live : [...first.live, me];
    const mine = first.streams.filter((expired) => preferredConsumer(expired.stream, live) === me);
    await this.act(previousOwner, mine);
    if (mine.length === first.streams.length) return;
    await sleep(this.graceMs);
    const rest = await this.orphans(previousOwner);
    if (rest) await this.act(previousOwner, rest.streams);
  }

  private async act(previousOwner: string, streams: ExpiredStream[]): Promise<void> {
    if (streams.length === 0 || !this.session.isValid()) return;
    if (!this.context.options.autoClaim) {
      for (const expired of streams) this.events.onExpired(expired);
      return;
    }
    const nonce = this.session.currentNonce;
    const outcomes = await this.claim(previousOwner, streams);
    // Claimed by an incarnation that ended meanwhile: the next one takes them back (recover.lua).
    if (nonce !== this.session.currentNonce || !this.session.isValid()) return;
    outcomes.forEach((outcome, i) => {
      const expired = streams[i]!;
      if (typeof outcome === 'number') {
        this.events.onClaimed({ stream: expired.stream, lbsId: expired.lbsId, info: expired.info, token: outcome });
      } else if (outcome === 'poison') {
        this.events.onError(poisoned(expired, this.context.options.maxDeliveries));
      }
    });
  }

  /** The streams `previousOwner` still holds, with the live consumers; undefined while its session exists. */
  private async orphans(previousOwner: string): Promise<{ live: string[]; streams: ExpiredStream[] } | undefined> {
    const { keys, options } = this.context;
    const streams: ExpiredStream[] = [];
    let live: string[] = [];
    let after = '-';
    do {
      const reply = orphansReply.parse(
        await this.context.scripts.run(
          'orphans',
          [keys.lbs, sessionKey(keys, previousOwner), keys.consumers, keys.deadLetter],
          [keys.group, previousOwner, after, PAGE_SIZE, options.maxEntryBytes, keys.sessionPrefix],
        ),
      );
      if (reply[0] === 'alive') return undefined;
      const [, next, consumers, ...entries] = reply;
      live = consumers;
      for (const [lbsId, stream, raw] of entries) streams.push({ stream, lbsId, info: decodeInfo(raw), previousOwner });
      after = next;
    } while (after !== '');
    return { live, streams };
  }
}
