import { z } from 'zod';
import type { ClientContext } from './context.js';
import { DeadLetterError, SessionLostError } from './errors.js';
import type { StreamLease } from './events.js';
import { decodeOutcomes, type EntryOutcome } from './grants.js';
import { sessionKey } from './keys.js';
import { LeaseRegistry, type LeaseGrant } from './leases.js';
import type { Notifier } from './notifier.js';
import type { Session } from './session.js';

const recoverReply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok'), z.string()]).rest(z.array(z.unknown()))]);
const finishReply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.enum(['done', 'not-owner']))]);

const RECOVER_PAGE = 500;
const FINISH_BATCH = 500;

export type FinishOutcome = 'done' | 'not-owner';

/**
 * The streams this consumer owns: the local leases, kept in step with Redis. Grants become `streamAdded`, a loss
 * becomes `streamDisowned`, and finishing or taking back a stream goes through its script.
 */
export class OwnedStreams {
  private readonly leases: LeaseRegistry;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly notifier: Notifier,
  ) {
    this.leases = new LeaseRegistry(context.consumerId);
  }

  get size(): number {
    return this.leases.size;
  }

  all(): StreamLease[] {
    return this.leases.all();
  }

  get(stream: string): StreamLease | undefined {
    return this.leases.get(stream);
  }

  /** Records a grant and returns its lease, announcing it as `streamAdded` unless `announce` is false. */
  add(grant: LeaseGrant, recovered: boolean, announce = true): StreamLease {
    const lease = this.leases.add(grant, recovered);
    if (announce) this.notifier.notify('streamAdded', lease);
    return lease;
  }

  /** Applies what take.lua or recover.lua did with LBS entries. */
  admit(outcomes: readonly EntryOutcome[], recovered: boolean): void {
    for (const outcome of outcomes) {
      if (outcome.kind === 'granted') {
        const { kind: _, ...grant } = outcome;
        this.add(grant, recovered);
      } else if (outcome.kind === 'dead') {
        this.notifier.report(new DeadLetterError(outcome.lbsId, outcome.reason));
      } else {
        this.context.options.logger.info(`Dropped LBS entry ${outcome.lbsId}: stream "${outcome.stream}" is already owned`);
      }
    }
  }

  /** Takes back the entries still pending under this consumer id (an earlier incarnation's). */
  async recover(): Promise<void> {
    const { keys, consumerId, options } = this.context;
    const nonce = this.session.currentNonce;
    let after = '-';
    do {
      const reply = recoverReply.parse(
        await this.context.scripts.run(
          'recover',
          [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.token, keys.deadLetter],
          [keys.group, consumerId, nonce, after, RECOVER_PAGE, options.maxEntryBytes, options.maxDeliveries],
        ),
      );
      if (reply[0] === 'lost' || nonce !== this.session.currentNonce) return;
      const [, next, ...items] = reply;
      this.admit(decodeOutcomes(items), true);
      after = next;
    } while (after !== '');
  }

  /** Finishes streams: acknowledged and deleted from the LBS, forgotten here. */
  async finish(leases: readonly StreamLease[]): Promise<FinishOutcome[]> {
    const outcomes: FinishOutcome[] = [];
    for (let i = 0; i < leases.length; i += FINISH_BATCH) outcomes.push(...(await this.finishBatch(leases.slice(i, i + FINISH_BATCH))));
    return outcomes;
  }

  /** Every lease is lost: signals aborted, then `streamDisowned` for each. */
  disownAll(): void {
    const lost = this.leases.endAll(new SessionLostError('This consumer lost its session: another consumer may own the stream'));
    for (const lease of lost) this.notifier.notify('streamDisowned', lease);
  }

  /** Every lease is given up (close): signals aborted, no event. */
  giveUpAll(reason: Error): void {
    this.leases.endAll(reason);
  }

  private async finishBatch(leases: readonly StreamLease[]): Promise<FinishOutcome[]> {
    const { keys, consumerId } = this.context;
    const reply = finishReply.parse(
      await this.context.scripts.run(
        'finish',
        [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads],
        [keys.group, consumerId, this.session.currentNonce, ...leases.flatMap((lease) => [lease.lbsId, lease.stream])],
      ),
    );
    if (reply[0] === 'lost') {
      this.session.heartbeatSoon();
      return leases.map(() => 'not-owner');
    }
    const outcomes = reply.slice(1) as FinishOutcome[];
    leases.forEach((lease, i) => {
      if (outcomes[i] === 'done') this.leases.remove(lease.stream);
    });
    return outcomes;
  }
}
