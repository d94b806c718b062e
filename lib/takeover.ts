import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientContext } from './context.js';
import { DeadLetterError, SessionLostError, type ClaimRefusal } from './errors.js';
import type { ExpiredStream } from './events.js';
import type { LeaseGrant } from './leases.js';
import { rendezvous } from './rendezvous.js';
import { claim, type ClaimEntry, type ClaimOutcome as ScriptClaimOutcome } from './scripts/claim.js';
import { listOrphans } from './scripts/list-orphans.js';
import { decodeInfo } from './scripts/outcomes.js';
import { readOrphans } from './scripts/read-orphans.js';
import type { Incarnation, Session } from './session.js';

export interface TakeoverEvents {
  /** Manual mode: a stream of a dead peer to report. */
  onExpired(expired: ExpiredStream): void;
  /** A claim call failed: its script may have run and granted entries whose reply was lost. */
  onClaimFailed(): void;
  /** autoClaim mode: a stream of a dead peer this consumer claimed. */
  onClaimed(grant: LeaseGrant): void;
  onError(error: unknown): void;
}

/** What a claim did with one entry: granted, or why not. */
export type ClaimOutcome = ScriptClaimOutcome | ClaimRefusal;


/** Entries listed per call: small enough that claiming starts early, large enough to keep calls few. */
const LIST_PAGE = 1000;
const BATCH = 500;

/**
 * Takes over the streams of dead peers. Each survivor first acts on the entries that rendezvous hashing of their
 * ids gives it, so survivors split the work instead of racing for every stream, and none has to read the entries
 * it leaves to others; after a grace period it acts on whatever is still unclaimed, in case the preferred
 * survivor is itself gone or declined.
 */
export class Takeover {
  /** Peers being handled; true when another report came in meanwhile and calls for one more pass. */
  private readonly running = new Map<string, boolean>();
  /** Takeovers under way, so that stop() can wait for them. */
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;
  /** Single claims waiting to go out together, per previous owner. */
  private readonly queued = new Map<string, Array<{ entry: ClaimEntry; settle: (outcome: Promise<ClaimOutcome>) => void }>>();
  private readonly graceMs: number;
  /** The `streamExpired` payloads this consumer emitted: a claim of one of these need not read its entry back. */
  private readonly reported = new WeakSet<ExpiredStream>();

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly events: TakeoverEvents,
  ) {
    this.graceMs = Math.min(250, Math.round(context.options.heartbeatMs / 4));
  }

  /** Reports or claims the streams of `previousOwner`, whose session has ended. */
  handle(previousOwner: string): void {
    if (previousOwner === this.context.consumerId || this.stopped) return;
    if (this.running.has(previousOwner)) {
      this.running.set(previousOwner, true);
      return;
    }
    this.running.set(previousOwner, false);
    this.context.log.debug('Taking over the streams of a consumer whose session ended', { previousOwner });
    const takeover = this.takeOver(previousOwner)
      .then((count) => {
        if (count === 0) return;
        const message = this.context.options.autoClaim
          ? 'Took over streams of a consumer whose session ended'
          : 'Announced the streams of a consumer whose session ended (streamExpired), to be claimed';
        this.context.log.warn(message, { previousOwner, count });
      })
      .catch((error: unknown) => this.events.onError(error))
      .finally(() => {
        this.inFlight.delete(takeover);
        const again = this.running.get(previousOwner);
        this.running.delete(previousOwner);
        if (again) this.handle(previousOwner);
      });
    this.inFlight.add(takeover);
  }

  /** Whether takeovers are under way (rebalancing waits for them). */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /** Announces a stream a live consumer offered to this one (manual mode), as a dead peer's would be: claim() of
   * this very payload need not read its entry back. */
  offered(expired: ExpiredStream): void {
    this.reported.add(expired);
    this.events.onExpired(expired);
  }

  /** Allows takeovers again after stop() (init() tried again). */
  start(): void {
    this.stopped = false;
  }

  /** Takes on no more peers; resolves when the takeovers under way have ended (each stops at its next step once
   * the session has stopped, so only a Redis that does not answer holds this up: callers bound the wait). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.settled();
  }

  /** Resolves when the takeovers under way have ended (drain(): what they claim comes before the hand-over). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Whether `expired` is a payload this consumer emitted (and so its stream, id and Info are the entry's). */
  reportedHere(expired: ExpiredStream): boolean {
    return this.reported.has(expired);
  }

  /**
   * Claims one entry. Claims made in the same turn of the event loop (a listener calling claim() for every
   * `streamExpired` of a dead peer) go out together, in batches, rather than one script call each.
   */
  claimOne(previousOwner: string, entry: ClaimEntry): Promise<ClaimOutcome> {
    return new Promise((resolve) => {
      let queue = this.queued.get(previousOwner);
      if (!queue) {
        queue = [];
        this.queued.set(previousOwner, queue);
        setImmediate(() => this.flush(previousOwner));
      }
      queue.push({ entry, settle: resolve });
    });
  }

  private flush(previousOwner: string): void {
    const queue = this.queued.get(previousOwner) ?? [];
    this.queued.delete(previousOwner);
    const outcomes = this.claimInBatches(
      previousOwner,
      queue.map(({ entry }) => entry),
    );
    queue.forEach(({ settle }, i) => settle(outcomes.then((all) => all[i] ?? 'taken')));
  }

  /** Claims entries of one previous owner; `stream` '' claims whatever stream the entry names. */
  private async claimInBatches(previousOwner: string, entries: readonly ClaimEntry[]): Promise<ClaimOutcome[]> {
    const outcomes = await Promise.all(batches(entries).map((batch) => this.claimBatch(previousOwner, batch)));
    return outcomes.flat();
  }

  /**
   * One claim.lua call. The batches of a takeover go out together: Redis runs them back to back while this
   * process handles the replies that came before.
   */
  private async claimBatch(
    previousOwner: string,
    entries: readonly ClaimEntry[],
    incarnation: Incarnation = this.session.incarnation(),
  ): Promise<ClaimOutcome[]> {
    let result;
    try {
      result = await claim(this.context.scripts, this.context, { nonce: incarnation.nonce, previousOwner, entries });
    } catch (error) {
      this.events.onClaimFailed();
      throw error;
    }
    if (result.status === 'lost') throw new SessionLostError('This consumer has lost its session; it cannot claim');
    const won = result.outcomes.filter((outcome) => typeof outcome !== 'string').length;
    this.context.metrics.claimed(won, result.outcomes.length - won);
    return result.outcomes;
  }

  /**
   * Acts on each page of the listing as it comes, so that claiming the first entries overlaps listing the rest.
   * After the grace period, whatever is still listed goes to this consumer too. Resolves with the number of streams
   * this consumer took over (autoClaim) or announced (manual mode).
   */
  private async takeOver(previousOwner: string): Promise<number> {
    const me = this.context.consumerId;
    const tally = { streams: 0 };
    let leftToOthers = false;
    const alive = await this.actOnPages(previousOwner, tally, (ids, live) => {
      const preferred = rendezvous(live.includes(me) ? live : [...live, me]);
      const mine = ids.filter((id) => preferred(id) === me);
      if (mine.length < ids.length) leftToOthers = true;
      return mine;
    });
    if (alive || !leftToOthers) return tally.streams;
    await sleep(this.graceMs);
    await this.actOnPages(previousOwner, tally, (ids) => ids);
    return tally.streams;
  }

  /** Lists the entries `previousOwner` holds page by page and acts on those `choose` picks, counting in `tally` the
   * streams taken or announced; true while it lives. */
  private async actOnPages(previousOwner: string, tally: { streams: number }, choose: (ids: string[], live: string[]) => string[]): Promise<boolean> {
    const steps: Array<Promise<void>> = [];
    let failure: { error: unknown } | undefined;
    let alive = false;
    let after = '-';
    try {
      do {
        if (!this.session.isValid()) break;
        const page = await listOrphans(this.context.scripts, this.context, { previousOwner, after, pageSize: LIST_PAGE });
        if (page.alive) {
          alive = true;
          break;
        }
        const step = this.act(previousOwner, choose(page.ids, page.live)).then((count) => void (tally.streams += count));
        steps.push(step.catch((error: unknown) => void (failure ??= { error })));
        after = page.next;
      } while (after !== '');
    } finally {
      // Every step runs to its end before the takeover does, even when listing failed.
      await Promise.all(steps);
    }
    if (failure) throw failure.error;
    return alive;
  }

  /** Claims (autoClaim) or announces the entries `ids`; resolves with how many streams that was. */
  private async act(previousOwner: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0 || !this.session.isValid()) return 0;
    if (!this.context.options.autoClaim) return this.announceExpired(previousOwner, ids);
    const won = await Promise.all(batches(ids).map((batch) => this.claimAndAnnounce(previousOwner, batch)));
    return won.reduce((sum, count) => sum + count, 0);
  }

  /** autoClaim: claims a batch of entries and announces what this consumer won; resolves with how many it won. */
  private async claimAndAnnounce(previousOwner: string, ids: readonly string[]): Promise<number> {
    const incarnation = this.session.incarnation();
    const outcomes = await this.claimBatch(previousOwner, ids.map((lbsId) => ({ lbsId, stream: '', known: false })), incarnation);
    // Claimed by an incarnation that ended meanwhile: the next one takes them back (recover.lua).
    if (!incarnation.isCurrent()) return 0;
    let won = 0;
    outcomes.forEach((outcome, i) => {
      const lbsId = ids[i]!;
      if (typeof outcome !== 'string') {
        const info = decodeInfo(outcome.raw, { lbsId, stream: outcome.stream }, (error) => this.events.onError(error));
        this.events.onClaimed({ stream: outcome.stream, lbsId, info, token: outcome.token, origin: 'takeover' });
        won += 1;
      } else if (outcome === 'poison' || outcome === 'malformed') {
        const why = outcome === 'poison' ? `its owners died ${this.context.options.maxDeliveries} times (maxDeliveries)` : 'malformed';
        this.events.onError(new DeadLetterError(lbsId, why));
      }
    });
    return won;
  }

  /**
   * Manual mode: reports the streams that entries of `previousOwner` name, for those still pending under it, a
   * read batch at a time, so that the listeners' claims of one batch go out while the next is read; resolves with
   * how many it reported.
   */
  private async announceExpired(previousOwner: string, ids: readonly string[]): Promise<number> {
    let announced = 0;
    for (const batch of batches(ids)) {
      if (!this.session.isValid()) return announced;
      const read = await readOrphans(this.context.scripts, this.context, { previousOwner, ids: batch });
      if (read.alive) return announced;
      for (const entry of read.entries) {
        if (entry.kind === 'dead') {
          this.events.onError(new DeadLetterError(entry.lbsId, entry.reason));
          continue;
        }
        const { lbsId, stream } = entry;
        const info = decodeInfo(entry.raw, { lbsId, stream }, (error) => this.events.onError(error));
        const expired = Object.freeze({ stream, lbsId, info, previousOwner });
        this.reported.add(expired);
        this.events.onExpired(expired);
        announced += 1;
      }
    }
    return announced;
  }
}

/** Script calls take at most BATCH entries, so that none holds Redis for long. */
function batches<T>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) result.push(items.slice(i, i + BATCH));
  return result;
}
