import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { Backoff } from './backoff.js';
import type { ClientContext } from './context.js';
import { HoldBack } from './hold-back.js';
import { errorCode, type RedisConnection } from './redis.js';
import type { EntryOutcome } from './scripts/outcomes.js';
import { take, type TakeResult } from './scripts/take.js';
import type { Incarnation, Session } from './session.js';

export interface ReaderEvents {
  /** What take.lua did with entries, for the session that was valid when they were taken. */
  onOutcomes(outcomes: EntryOutcome[]): void;
  /** Entries a blocking read delivered to an incarnation that has ended since: pending under this consumer with
   * no lease, to be taken back by the current one. */
  onStrays(ids: string[]): void;
  onError(error: unknown): void;
  /** How many more streams this consumer may take now (maxStreams minus owned). */
  capacity(): number;
  /** Closes the reader's connection, which ends a blocking read on it at once. */
  interrupt(): Promise<void>;
  /** Ends the blocking read of the connection with this id early, as if it had timed out (CLIENT UNBLOCK): nothing
   * delivered is lost, unlike with interrupt(). */
  unblock(connectionId: number): Promise<void>;
}

const blockingReadReply = z.array(z.tuple([z.string(), z.array(z.tuple([z.string(), z.unknown()]))])).nullable();

/** Block on the LBS this long per call: finite, so a dead socket is noticed and `close()` is prompt. */
export const BLOCK_MS = 5000;
/** Most entries one take call grants. */
const TAKE_BATCH = 100;
/** While above its fair share, look again this often (until the peers have taken or HoldBack says to take anyway). */
const HOLD_POLL_MS = 10;
/** When nothing can be taken (maxStreams reached, session lost), look again this often. */
const IDLE_POLL_MS = 50;

/**
 * Reads the load balancer stream. New entries are taken by take.lua, which keeps shares fair across the fleet and
 * grants each entry atomically; when none are left, a blocking XREADGROUP on this reader's own connection waits
 * for the next one, which the following take call then admits.
 */
export class LbsReader {
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly backoff = new Backoff();
  /** The id of the reader's connection while a blocking read is outstanding on it (when CLIENT ID answered). */
  private blockedOn: number | undefined;
  /** Callers of settle() waiting for the loop to stand idle. */
  private settling: Array<() => void> = [];

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private connection: RedisConnection,
    private readonly events: ReaderEvents,
  ) {}

  /** Switches the blocking reads to another connection (the service's slot moved to another cluster node). */
  useConnection(connection: RedisConnection): void {
    this.connection = connection;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reading; interrupts a blocking read by closing the reader's connection. Resolves when the loop has
   * ended: a take call stuck in an unreachable Redis's queue holds it up, so callers bound the wait. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.events.interrupt();
    await this.loop;
    this.idle();
  }

  /**
   * Resolves once the loop stands idle because it may take nothing (capacity 0, as while draining): after the take
   * or the blocking read under way, and the admission of whatever that read delivered, so that nothing reaches this
   * consumer afterwards. A blocking read is ended early (CLIENT UNBLOCK); where that is refused, it runs its course
   * (at most BLOCK_MS).
   */
  async settle(): Promise<void> {
    if (!this.loop || this.stopping) return;
    const settled = new Promise<void>((resolve) => this.settling.push(resolve));
    if (this.blockedOn !== undefined) await this.events.unblock(this.blockedOn).catch(() => undefined);
    await settled;
  }

  private idle(): void {
    for (const resolve of this.settling.splice(0)) resolve();
  }

  private async run(): Promise<void> {
    /** An entry a blocking read delivered, to be admitted by the next take of the incarnation that read it. */
    let adopt: { id: string; readBy: Incarnation } | undefined;
    const holdBack = new HoldBack();
    while (!this.stopping) {
      try {
        if (adopt && adopt.readBy.nonce !== this.session.incarnation().nonce) {
          // The read outlived its incarnation (a stall): the entry is pending here with no lease. The current
          // incarnation may have taken back everything pending already, so it is handed over explicitly.
          this.events.onStrays([adopt.id]);
          adopt = undefined;
        }
        const capacity = Math.max(0, Math.min(TAKE_BATCH, this.events.capacity()));
        if (capacity === 0 && !adopt) this.idle();
        if (!this.session.isValid() || (capacity === 0 && !adopt)) {
          await sleep(IDLE_POLL_MS);
          continue;
        }
        const sentAt = performance.now();
        const result = await this.take(capacity, holdBack.exceeded(), adopt?.id ?? '');
        adopt = undefined;
        this.backoff.reset();
        if (result.status === 'hold') {
          holdBack.held(result.progress, sentAt);
          await sleep(HOLD_POLL_MS);
          continue;
        }
        holdBack.reset();
        // Nothing may be taken (an adopt-only take): no read, that would deliver what may not be taken.
        if (result.status === 'empty' && capacity > 0) {
          const readBy = this.session.incarnation();
          const id = await this.waitForEntry();
          if (id !== '') adopt = { id, readBy };
        }
        else if (result.status === 'lost') await sleep(IDLE_POLL_MS);
      } catch (error) {
        if (this.stopping) break;
        if (errorCode(error) === 'NOGROUP') await createGroup(this.context).catch(() => undefined);
        this.events.onError(error);
        await sleep(this.backoff.next());
      }
    }
  }

  private async take(capacity: number, force: boolean, adopt: string): Promise<TakeResult> {
    const incarnation = this.session.incarnation();
    const result = await take(
      this.context.scripts,
      this.context,
      { nonce: incarnation.nonce, capacity, force, adopt },
      (error) => this.events.onError(error),
    );
    // Entries granted to an incarnation that has ended meanwhile are taken back by the next one (recover.lua).
    if (result.outcomes.length > 0 && incarnation.isCurrent()) this.events.onOutcomes(result.outcomes);
    return result;
  }

  /** Blocks until an entry is delivered to this consumer; returns its id, or '' when the block timed out (or was
   * ended early by settle()). */
  private async waitForEntry(): Promise<string> {
    const { keys, consumerId } = this.context;
    const connection = this.connection;
    // Pipelined with the read: the id that settle() unblocks (the connection may have been made anew since).
    const id = connection.sendCommand(['CLIENT', 'ID']).then((reply) => (typeof reply === 'number' ? reply : undefined), () => undefined);
    const read = connection.sendCommand([
      'XREADGROUP', 'GROUP', keys.group, consumerId, 'COUNT', '1', 'BLOCK', String(BLOCK_MS), 'STREAMS', keys.lbs, '>',
    ]);
    try {
      this.blockedOn = await id;
      return blockingReadReply.parse(await read)?.[0]?.[1][0]?.[0] ?? '';
    } finally {
      this.blockedOn = undefined;
    }
  }

}

/** Creates the LBS consumer group from the start of the stream, so entries added before any consumer are
 * delivered too. */
export async function createGroup(context: ClientContext): Promise<void> {
  const { keys } = context;
  try {
    await context.redis.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
  } catch (error) {
    if (errorCode(error) !== 'BUSYGROUP') throw error;
  }
}
