import { z } from 'zod';
import type { ClientContext } from './context.js';
import { DeadLetterError, SessionLostError } from './errors.js';
import type { StreamLease } from './events.js';
import { LeaseRegistry, type LeaseGrant, type LeaseHost, type OwnedLease } from './leases.js';
import type { Notifier } from './notifier.js';
import { finish, type FinishOutcome } from './scripts/finish.js';
import { reject } from './scripts/reject.js';
import type { EntryOutcome } from './scripts/outcomes.js';
import { recover } from './scripts/recover.js';
import { takeBack } from './scripts/take-back.js';
import type { Session } from './session.js';

const pendingReply = z.array(z.tuple([z.string(), z.string(), z.number(), z.number()]));

const RECOVER_PAGE = 500;
const FINISH_BATCH = 500;
/** An entry pending under this consumer this long without a lease here had its grant's reply lost. */
const STRAY_IDLE_MS = 2000;
/** Entries the self-check looks at per round; a round runs every heartbeatMs, so its cost stays bounded. */
const SELF_CHECK_PAGE = 1000;

/**
 * The streams this consumer owns: the local leases, kept in step with Redis. Grants become `streamAdded`, a loss
 * becomes `streamDisowned`, and finishing or taking back a stream goes through its script.
 */
export class OwnedStreams {
  private readonly leases: LeaseRegistry;
  /** Recoveries run one at a time, so that an entry is never taken back twice. */
  private recovering: Promise<void> = Promise.resolve();
  private strayCheck: NodeJS.Timeout | undefined;
  private selfCheck: NodeJS.Timeout | undefined;
  /** Where an LBS entry whose Info cannot be decoded is reported (the stream is still owned). */
  private readonly reportDecoding = (error: unknown): void => this.notifier.report(error);
  /** Where the next self-check round starts in the entries pending under this consumer. */
  private selfCheckFrom = '-';
  /** Entries offered to this consumer (manual mode) and not claimed yet: pending under it with no lease, and no
   * strays. */
  private readonly offered = new Set<string>();

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

  all(): OwnedLease[] {
    return this.leases.all();
  }

  get(stream: string): OwnedLease | undefined {
    return this.leases.get(stream);
  }

  /** Attaches the processing of the streams' entries. */
  attach(host: LeaseHost): void {
    this.leases.attach(host);
  }

  /** One lease is lost (out of date): its signal is aborted, then `streamDisowned`. */
  disown(lease: OwnedLease, reason: Error): void {
    if (this.leases.get(lease.stream) !== lease) return;
    this.leases.end(lease.stream, reason);
    this.notifier.notify('streamDisowned', lease);
  }

  /** Moves a stream's LBS entry to the dead-letter stream with `reason`, and forgets its lease. */
  async reject(lease: OwnedLease, reason: string): Promise<void> {
    const outcome = await reject(this.context.scripts, this.context, { nonce: this.session.incarnation().nonce, lbsId: lease.lbsId, stream: lease.stream, reason });
    if (outcome === 'lost') {
      this.session.heartbeatSoon();
      return;
    }
    if (this.leases.get(lease.stream) === lease) this.leases.remove(lease.stream);
    if (outcome === 'rejected') this.notifier.report(new DeadLetterError(lease.lbsId, reason));
  }

  /** Records a grant and returns its lease, announcing it as `streamAdded` unless `announce` is false. A stale grant
   * (older than the lease held for the stream) changes nothing: the lease held is returned. */
  add(grant: LeaseGrant, announce = true): StreamLease {
    this.offered.delete(grant.lbsId);
    const lease = this.leases.add(grant);
    if (!lease) return this.leases.get(grant.stream)!;
    this.context.log.debug('Stream admitted', { stream: lease.stream, lbsId: lease.lbsId, token: lease.token, origin: lease.origin });
    this.context.metrics.acquired(lease.origin);
    if (announce) this.notifier.notify('streamAdded', lease);
    return lease;
  }

  /** An entry was offered to this consumer, to be claimed by the user's code (manual mode): not a stray. */
  expectClaim(lbsId: string): void {
    this.offered.add(lbsId);
  }

  /** Ends a lease this consumer gives up (a hand-off): its signal is aborted, no event yet. */
  giveUp(lease: OwnedLease, reason: Error): void {
    if (this.leases.get(lease.stream) === lease) this.leases.end(lease.stream, reason);
  }

  /** Applies what take.lua or recover.lua did with LBS entries. */
  admit(outcomes: readonly EntryOutcome[], origin: 'new' | 'restart'): void {
    for (const outcome of outcomes) {
      if (outcome.kind === 'granted') {
        const { kind: _, ...grant } = outcome;
        this.add({ ...grant, origin });
      } else if (outcome.kind === 'dead') {
        this.notifier.report(new DeadLetterError(outcome.lbsId, outcome.reason));
      } else {
        this.context.log.info('Dropped an LBS entry: its stream is already owned through another entry', { lbsId: outcome.lbsId, stream: outcome.stream });
      }
    }
  }

  /** Takes back the entries still pending under this consumer id (an earlier incarnation's). `counts`: the earlier
   * incarnation failed alone (register.lua), so each entry counts one more delivery. */
  recover(counts: boolean): Promise<void> {
    return this.serially(async () => {
      let after = '-';
      do after = await this.recoverPage(after, counts);
      while (after !== '');
    });
  }

  /** Takes back entries known to be pending under this consumer with no lease here, such as one that reached the
   * blocking read of an incarnation that has ended since. */
  takeBack(ids: readonly string[]): void {
    this.serially(() => this.recoverIds(ids)).catch((error: unknown) => this.notifier.report(error));
  }

  /**
   * Looks, one page every heartbeatMs, through the entries pending under this consumer for any it holds no lease for
   * (a reply lost with no error to tell, or a grant that reached a past incarnation), and takes them back.
   */
  startSelfCheck(): void {
    clearTimeout(this.selfCheck);
    this.selfCheck = setTimeout(() => {
      this.serially(async () => {
        this.selfCheckFrom = (await this.strayPage(this.selfCheckFrom, SELF_CHECK_PAGE)).next;
      })
        .catch((error: unknown) => this.notifier.report(error))
        .finally(() => this.selfCheck && this.startSelfCheck());
    }, this.context.options.heartbeatMs);
    this.selfCheck.unref();
  }

  /**
   * After an error, a reply may have been lost after its script ran: a take, claim or blocking read then left
   * entries pending under this consumer with no lease here. Once they have been idle long enough that no reply is
   * still on its way, take them back. A check that sees such entries not yet idle long enough looks again later,
   * so one check per burst of errors is enough; it is bounded by what this consumer holds.
   */
  checkForStraysSoon(): void {
    if (this.strayCheck) return;
    this.strayCheck = setTimeout(() => {
      this.strayCheck = undefined;
      this.serially(() => this.recoverStrays()).catch((error: unknown) => this.notifier.report(error));
    }, STRAY_IDLE_MS + 100);
    this.strayCheck.unref();
  }

  stop(): void {
    clearTimeout(this.strayCheck);
    clearTimeout(this.selfCheck);
    this.selfCheck = undefined;
  }

  /** Finishes streams: acknowledged and deleted from the LBS, forgotten here. */
  async finish(leases: readonly StreamLease[]): Promise<FinishOutcome[]> {
    const outcomes: FinishOutcome[] = [];
    for (let i = 0; i < leases.length; i += FINISH_BATCH) outcomes.push(...(await this.finishBatch(leases.slice(i, i + FINISH_BATCH))));
    return outcomes;
  }

  /** Every lease is lost: signals aborted, then `streamDisowned` for each. */
  disownAll(): void {
    // What was offered to the lost incarnation is taken back by the next one (recover.lua), or taken over.
    this.offered.clear();
    const lost = this.leases.endAll(new SessionLostError('This consumer lost its session: another consumer may own the stream'));
    for (const lease of lost) this.notifier.notify('streamDisowned', lease);
  }

  /** Every lease is given up (close): signals aborted, no event. Returns the leases given up. */
  giveUpAll(reason: Error): OwnedLease[] {
    return this.leases.endAll(reason);
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const run = this.recovering.then(work);
    this.recovering = run.catch(() => undefined);
    return run;
  }

  private async recoverStrays(): Promise<void> {
    let young = false;
    let start = '-';
    do {
      const page = await this.strayPage(start, 1000);
      young ||= page.young;
      start = page.next;
    } while (start !== '-');
    if (young) this.checkForStraysSoon();
  }

  /**
   * One page of the entries pending under this consumer from `start`: takes back those it holds no lease for that
   * have been idle long enough that no reply naming them can still be on its way. Returns where the next page
   * starts ('-' after the last) and whether a stray was too young to take yet.
   */
  private async strayPage(start: string, count: number): Promise<{ next: string; young: boolean }> {
    if (!this.session.isValid()) return { next: '-', young: false };
    const { keys, consumerId } = this.context;
    const page = pendingReply.parse(
      await this.context.redis.sendCommand(['XPENDING', keys.lbs, keys.group, start, '+', String(count), consumerId]),
    );
    const held = this.heldIds();
    const strays = page.filter(([id, , idleMs]) => !held.has(id) && idleMs >= STRAY_IDLE_MS).map(([id]) => id);
    const young = page.some(([id, , idleMs]) => !held.has(id) && idleMs < STRAY_IDLE_MS);
    await this.recoverIds(strays);
    return { next: page.length < count ? '-' : `(${page[page.length - 1]![0]}`, young };
  }

  /** Takes back the given entries that are pending under this consumer and have no lease here. */
  private async recoverIds(ids: readonly string[]): Promise<void> {
    const held = this.heldIds();
    const strays = ids.filter((id) => !held.has(id));
    for (let i = 0; i < strays.length; i += RECOVER_PAGE) {
      const incarnation = this.session.incarnation();
      const ids = strays.slice(i, i + RECOVER_PAGE);
      const result = await takeBack(this.context.scripts, this.context, { nonce: incarnation.nonce, ids }, this.reportDecoding);
      // Taken back for an incarnation that ended meanwhile: the next one takes them back again (recover.lua).
      if (result.lost || !incarnation.isCurrent()) return;
      this.admit(result.outcomes, 'restart');
    }
  }

  /** The entries this consumer holds a lease for, or was offered. */
  private heldIds(): Set<string> {
    const held = new Set(this.offered);
    for (const lease of this.leases.all()) held.add(lease.lbsId);
    return held;
  }

  /** One page of recover.lua; returns where the next page starts ('' when done). */
  private async recoverPage(after: string, counts: boolean): Promise<string> {
    const incarnation = this.session.incarnation();
    const request = { nonce: incarnation.nonce, after, pageSize: RECOVER_PAGE, counts };
    const result = await recover(this.context.scripts, this.context, request, this.reportDecoding);
    if (result.lost || !incarnation.isCurrent()) return '';
    this.admit(result.outcomes, 'restart');
    return result.next;
  }

  private async finishBatch(leases: readonly StreamLease[]): Promise<FinishOutcome[]> {
    const result = await finish(this.context.scripts, this.context, { nonce: this.session.incarnation().nonce, streams: leases });
    if (result.lost) {
      this.session.heartbeatSoon();
      return leases.map(() => 'not-owner');
    }
    const { outcomes } = result;
    // Either way the stream is not this consumer's any more (not-owner: a peer holds it, or an earlier reply
    // that finished it was lost).
    for (const lease of leases) this.leases.remove(lease.stream);
    return outcomes;
  }
}
