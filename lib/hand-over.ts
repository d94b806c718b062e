import type { ClientContext } from './context.js';
import { RedisStreamClientError } from './errors.js';
import type { ReleaseReason, StreamLease } from './events.js';
import type { OwnedLease } from './leases.js';
import type { Notifier } from './notifier.js';
import type { OwnedStreams } from './owned-streams.js';
import { handoff } from './scripts/handoff.js';
import type { Session } from './session.js';

/** Streams per handoff.lua call: about 6 ms of Redis's time. Smaller calls reach the first receivers sooner but wake
 * every process once per call: on a 2-core machine, 250 per call brought the last of 1,000 streams later. */
const HANDOFF_BATCH = 1000;

export interface HandOverDeps {
  readonly streams: OwnedStreams;
  readonly notifier: Notifier;
  /** Stops processing these leases' streams and commits their positions (see Processing.release). */
  release(leases: readonly OwnedLease[], timeoutMs: number): Promise<void>;
  /** The database the consumers listen in (for the receivers' channel). */
  database(): number;
}

/** What a hand-off did: how many streams went to other consumers, and the leases this consumer kept. */
export interface HandOverResult {
  handedOver: number;
  kept: StreamLease[];
}

/**
 * The giving end of hand-offs (rebalancing, drain(), close()): stops working on the streams, ends their leases, and
 * hands them to the consumers furthest below their fair share in one script call per batch. Hand-offs run one at a
 * time. Rebalancing and drain() give no more than `room()` says the others may be handed; a stream nobody may be
 * handed by the time its call runs (the fleet changed meanwhile) is kept under a new lease (`origin: 'restart'`).
 * close() gives everything at once: what nobody may be handed is released as it is, for the takeover.
 */
export class HandOver {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly deps: HandOverDeps,
  ) {}

  /** How many streams the other consumers could be handed now (0 when this consumer's session is not valid). */
  async room(): Promise<number> {
    const incarnation = this.session.incarnation();
    if (!incarnation.isCurrent()) return 0;
    const result = await handoff(this.context.scripts, this.context, { nonce: incarnation.nonce, database: this.deps.database(), unhanded: 'keep', streams: [] });
    return result.lost ? 0 : result.room;
  }

  /** Hands `leases` over (after the hand-offs already under way). */
  give(leases: readonly OwnedLease[], reason: ReleaseReason): Promise<HandOverResult> {
    const run = this.queue.then(() => this.giveNow(leases, reason));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async giveNow(leases: readonly OwnedLease[], reason: ReleaseReason): Promise<HandOverResult> {
    const result: HandOverResult = { handedOver: 0, kept: [] };
    const incarnation = this.session.incarnation();
    const holds = (lease: OwnedLease): boolean => !lease.ended && this.deps.streams.get(lease.stream) === lease;
    if (!leases.some(holds) || !incarnation.isCurrent()) return result;
    // Closing, the processing has been drained and committed already.
    if (reason !== 'close') await this.deps.release(leases.filter(holds), this.context.options.releaseTimeoutMs);
    // A handler may have finished its stream meanwhile (doneStream), or the session ended.
    const held = leases.filter(holds);
    const ending = new RedisStreamClientError(`The stream was handed over to another consumer (${reason})`);
    // The leases end before any receiver's can begin.
    for (const lease of held) this.deps.streams.giveUp(lease, ending);
    // Every batch at once: Redis runs them back to back while the receivers take the first ones.
    const batches: OwnedLease[][] = [];
    const ordered = inOrderOfEntry(held);
    for (let i = 0; i < ordered.length; i += HANDOFF_BATCH) batches.push(ordered.slice(i, i + HANDOFF_BATCH));
    const replies = await Promise.allSettled(
      batches.map((batch) =>
        handoff(this.context.scripts, this.context, {
          nonce: incarnation.nonce,
          database: this.deps.database(),
          // Closing, what nobody may be handed is left for the takeover once the session has ended.
          unhanded: reason === 'close' ? 'leave' : 'keep',
          streams: batch.map(({ lbsId, stream, info }) => ({ lbsId, stream, info: JSON.stringify(info) })),
        }),
      ),
    );
    // Kept for an incarnation that ended meanwhile: the next one takes the stream back (recover.lua).
    const current = incarnation.isCurrent();
    let failure: unknown;
    batches.forEach((batch, i) => {
      const reply = replies[i]!;
      if (reply.status === 'rejected') {
        // Given up all the same. The call may have run (a receiver owns them) or not (the self-check, which the
        // error brings on, takes back what is still pending here without a lease).
        failure ??= reply.reason;
        for (const lease of batch) this.deps.notifier.notify('streamReleased', { lease, reason });
        return;
      }
      if (reply.value.lost) {
        // The session ended: another consumer may own them now.
        for (const lease of batch) this.deps.notifier.notify('streamDisowned', lease);
        this.session.heartbeatSoon();
        return;
      }
      reply.value.outcomes.forEach((what, j) => {
        const lease = batch[j]!;
        if (what === 'not-owner') this.deps.notifier.notify('streamDisowned', lease);
        else if (what === 'left') this.deps.notifier.notify('streamReleased', { lease, reason });
        else if ('kept' in what) {
          const { stream, lbsId, info } = lease;
          if (current) result.kept.push(this.deps.streams.add({ stream, lbsId, info, token: what.kept, origin: 'restart' }));
          else this.deps.notifier.notify('streamDisowned', lease);
        } else {
          result.handedOver += 1;
          this.deps.notifier.notify('streamReleased', { lease, reason });
        }
      });
    });
    if (failure !== undefined) throw failure;
    return result;
  }
}

/**
 * The leases in order of their LBS entry's id: handoff.lua then checks each batch's entries with one range of pending
 * entries. Only that check's cost depends on the order, so ids are compared as numbers (exact up to 2^53, and ids
 * from Redis's clock are far below it) rather than exactly.
 */
function inOrderOfEntry(leases: readonly OwnedLease[]): OwnedLease[] {
  const keyed = leases.map((lease) => {
    const dash = lease.lbsId.indexOf('-');
    return { lease, ms: Number(lease.lbsId.slice(0, dash)), seq: Number(lease.lbsId.slice(dash + 1)) };
  });
  keyed.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  return keyed.map(({ lease }) => lease);
}
