import { setTimeout as sleep } from 'node:timers/promises';
import type { Connections } from '../connections.js';
import type { ClientContext } from '../context.js';
import { EntryDeadLetterError, NotOwnerError, RedisStreamClientError, StreamProcessingError } from '../errors.js';
import type { LeaseHost, OwnedLease } from '../leases.js';
import { errorCode } from '../redis.js';
import { commitPositions } from '../scripts/commit-positions.js';
import { openPositions, type OpenOutcome } from '../scripts/open-positions.js';
import { setPosition } from '../scripts/set-position.js';
import type { Session } from '../session.js';
import { withTimeout } from '../timeout.js';
import { Backoff } from '../backoff.js';
import { Committer } from './committer.js';
import type { DataNodes } from './data-nodes.js';
import type { ReadEntry, StreamEntry } from './entry.js';
import { leaseEntries } from './lease-entries.js';
import { Processor } from './processor.js';
import { parseEntriesOptions, type EntriesOptions, type ReadingSettings, type RunSettings } from './run-options.js';
import { compareIds, nextId } from './stream-id.js';
import { StreamReads } from './stream-reads.js';
import { POLL_MS, StreamWakeups } from './stream-wakeups.js';
import { StreamWork } from './stream-work.js';

const POLLING_WARNINGS = {
  off: `Stream writes are not announced (notify-keyspace-events lacks K and t, and may not be set): owned streams are polled every ${POLL_MS} ms`,
  refused: `Listening for stream writes was refused: owned streams are polled every ${POLL_MS} ms`,
  unknown: `CONFIG is refused, so whether stream writes are announced (flags K and t) is not known: owned streams are polled every ${POLL_MS} ms until a write is heard`,
};

/** Streams per open-positions call. */
const OPEN_BATCH = 500;
/** The most of an error message kept in the entry dead-letter stream. */
const ERROR_TEXT_BYTES = 1024;

/** What the processing asks of the client. */
export interface ProcessingHost {
  /** The lease is out of date (a later owner opened or wrote the stream's position): end it as lost. */
  disown(lease: OwnedLease, reason: Error): void;
  /** Finishes the stream, as doneStream() does. */
  finish(lease: OwnedLease): Promise<void>;
  /** Moves the stream's LBS entry to the dead-letter stream: the stream cannot be processed. */
  reject(lease: OwnedLease, reason: string): Promise<void>;
  report(error: unknown): void;
}

/** Where the data streams are and how to reach them, given once the client has started. */
export interface DataAccess {
  readonly nodes: DataNodes;
  readonly database: number;
}

interface Io {
  readonly nodes: DataNodes;
  readonly reads: StreamReads;
  readonly wakeups: StreamWakeups;
}

/**
 * Processes the owned streams: opens each stream at its committed position (fenced by the lease's token), reads
 * the streams that were written to, hands entries to `run()`'s handler or to `lease.entries()`, and commits what
 * was processed. A stream's work moves with its lease: a new owner goes on from the last committed position.
 */
export class Processing implements LeaseHost {
  private readonly works = new Map<string, StreamWork>();
  private readonly iterated = new WeakSet<OwnedLease>();
  /** Streams a hand-off waits on, until their handler or loop body is done (release()). */
  private readonly settling = new Map<StreamWork, () => void>();
  private readonly committer: Committer;
  private settings: RunSettings | undefined;
  private processor: Processor | undefined;
  private io: Promise<Io> | undefined;
  private opening: StreamWork[] = [];
  private openScheduled = false;
  private readonly openBackoff = new Backoff(100, 5000);
  private started = false;
  private stopped = false;

  constructor(
    private readonly context: ClientContext,
    private readonly session: Session,
    private readonly connections: Connections,
    private readonly access: () => Promise<DataAccess>,
    private readonly host: ProcessingHost,
  ) {
    this.committer = new Committer(context, session, {
      onStale: (work) =>
        host.disown(work.lease, new StreamProcessingError(work.stream, `Stream "${work.stream}": a later owner has written its position; this lease is out of date`)),
      onCommitted: (work, id) => this.trim(work, id),
      onError: (error) => host.report(error),
    });
  }

  /** Whether run() is registered. */
  get running(): boolean {
    return this.settings !== undefined;
  }

  /** run(): from now on every lease, held or granted later, is processed by the handler. */
  register(settings: RunSettings, leases: readonly OwnedLease[]): void {
    this.settings = settings;
    this.processor = new Processor(settings, this.steps);
    for (const lease of leases) if (!this.iterated.has(lease) && !lease.ended) this.attach(lease, settings);
  }

  /** The client has started (again, after an init() that failed): streams can be opened. */
  start(): void {
    this.started = true;
    this.stopped = false;
    this.scheduleOpen();
  }

  added(lease: OwnedLease): void {
    if (this.settings) this.attach(lease, this.settings);
  }

  entries(lease: OwnedLease, options: EntriesOptions | undefined): AsyncIterableIterator<StreamEntry> {
    if (this.settings) {
      throw new RedisStreamClientError('lease.entries() cannot be used while client.run() is registered: run() processes every lease');
    }
    const settings = parseEntriesOptions(options);
    if (this.iterated.has(lease)) throw new RedisStreamClientError(`lease.entries() was already called for stream "${lease.stream}": one reader per lease`);
    this.iterated.add(lease);
    const work = new StreamWork(lease, settings);
    if (lease.ended || this.stopped) work.closed = true;
    else this.track(work);
    return leaseEntries(work, { ...this.steps, left: (left) => this.untrack(left) });
  }

  /** The lease ended, or (not ended) its stream was finished: then its position is gone and stays gone. */
  gone(lease: OwnedLease): void {
    const work = this.works.get(lease.stream);
    if (work?.lease !== lease) return;
    if (!lease.ended) work.finished = true;
    this.untrack(work);
  }

  /** Entries read and not processed yet, and how far behind each stream processed under run() is, for metrics. */
  backlog(now = Date.now()): { buffered: number; lagsMs: number[] } {
    let buffered = 0;
    const lagsMs: number[] = [];
    for (const work of this.works.values()) {
      buffered += work.buffer.length;
      lagsMs.push(work.lag(now));
    }
    return { buffered, lagsMs };
  }

  lag(lease: OwnedLease): number {
    const work = this.works.get(lease.stream);
    return work?.lease === lease ? work.lag() : 0;
  }

  /** doneStream() was called for a stream being processed (from its handler, say): nothing more is handed out,
   * and its position is not committed again (finishing deletes it). */
  ending(lease: OwnedLease): void {
    const work = this.works.get(lease.stream);
    if (work?.lease !== lease) return;
    work.closed = true;
    work.finished = true;
  }

  /** The stored position of a stream (the id of its last processed entry), or undefined. */
  async getPosition(stream: string): Promise<string | undefined> {
    const position = await this.context.redis.sendCommand(['HGET', this.context.keys.positions, stream]);
    return typeof position === 'string' ? position : undefined;
  }

  /** Sets a stream's position: allowed to its owner (reading goes on from there) or while nobody owns it. */
  async setPosition(stream: string, id: string, lease: OwnedLease | undefined): Promise<void> {
    const token = lease && !lease.ended ? lease.token : undefined;
    const outcome = await setPosition(this.context.scripts, this.context, { stream, position: id, token });
    if (outcome === 'owned') throw new NotOwnerError(stream);
    const work = this.works.get(stream);
    if (!work || work.lease !== lease || !work.open) return;
    const io = await this.io!;
    work.epoch += 1;
    work.processed = undefined;
    work.cursor = id;
    io.reads.forget(work);
    io.reads.wake(work);
  }

  /**
   * Stops handing out entries and reading, and waits up to `timeoutMs` for the handlers under way (close, done).
   * What was processed is committed by commit().
   */
  async drain(timeoutMs: number): Promise<void> {
    this.stopped = true;
    const io = await this.io?.catch(() => undefined);
    io?.reads.stop();
    io?.wakeups.stop();
    await withTimeout(this.processor?.drain() ?? Promise.resolve(), timeoutMs).catch(() => undefined);
  }

  /**
   * Stops processing these leases' streams before they are handed over: nothing more is read or handed out, the
   * handler (or the iterator's loop body) under way on each is waited for up to `timeoutMs`, and what was processed
   * is committed, so that the next owner goes on from there. The leases themselves stay on.
   */
  async release(leases: readonly OwnedLease[], timeoutMs: number): Promise<void> {
    const works = leases.map((lease) => this.works.get(lease.stream)).filter((work, i): work is StreamWork => work?.lease === leases[i]);
    if (works.length === 0) return;
    const io = await this.io?.catch(() => undefined);
    for (const work of works) {
      work.closed = true;
      io?.reads.forget(work);
      const wake = work.wake;
      work.wake = undefined;
      wake?.();
    }
    await withTimeout(Promise.all(works.map((work) => this.settled(work))), timeoutMs).catch(() => undefined);
    await this.committer.flush();
  }

  /** Resolves once no handler works on the stream and no yielded entry waits to be marked processed. */
  private settled(work: StreamWork): Promise<void> {
    if (!work.busy && work.current === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.settling.get(work);
      this.settling.set(work, () => {
        previous?.();
        resolve();
      });
    });
  }

  /** Commits what was processed (a hand-off). */
  commit(): Promise<void> {
    return this.committer.flush();
  }

  /** Stops every part; its connections are closed by the client. A later start() begins afresh. */
  stop(): void {
    this.stopped = true;
    this.started = false;
    this.committer.stop();
    void this.io?.then((io) => {
      io.reads.stop();
      io.wakeups.stop();
      io.nodes.stop();
    }, () => undefined);
    this.io = undefined;
    for (const work of this.works.values()) this.untrack(work);
    this.opening = [];
  }

  /** Called by the client after it reconnected or Redis restarted: flags again, and read every stream. */
  async resync(): Promise<void> {
    const io = await this.io?.catch(() => undefined);
    if (!io || this.stopped) return;
    await io.wakeups.resync();
  }

  /** The steps the processor and the iterators take, sharing the reading and the commits. */
  private readonly steps = {
    mayStart: (work: StreamWork): boolean => work.live && this.session.isValid(),
    taken: (work: StreamWork, count: number): void => void this.io?.then((io) => io.reads.taken(work, count)),
    processed: (work: StreamWork, id: string, epoch: number): void => {
      if (work.epoch !== epoch || work.lease.ended) return;
      work.processed = id;
      this.committer.mark(work);
    },
    reachedEnd: (work: StreamWork): Promise<void> => this.finishAtEnd(work),
    deadLetter: (work: StreamWork, entry: ReadEntry, attempts: number, error: unknown): Promise<void> =>
      this.deadLetter(work, entry, attempts, error),
    report: (error: unknown): void => this.host.report(error),
    handled: (entries: number, ms: number, outcome: 'processed' | 'failed'): void => this.context.metrics.handled(entries, ms, outcome),
    retried: (entries: number): void => this.context.metrics.retried(entries),
    settled: (work: StreamWork): void => {
      if (work.busy || work.current !== undefined) return;
      const resolve = this.settling.get(work);
      this.settling.delete(work);
      resolve?.();
    },
  };

  /** The end marker was reached: the stream is finished. A finish that fails for a Redis error is tried again until
   * it is done or the lease ends; one refused (not the owner any more) is reported. */
  private async finishAtEnd(work: StreamWork): Promise<void> {
    work.closed = true;
    work.finished = true;
    const backoff = new Backoff(100, 5000);
    while (!work.lease.ended && this.works.get(work.stream) === work) {
      try {
        await this.host.finish(work.lease);
        return;
      } catch (error) {
        this.host.report(error);
        if (error instanceof NotOwnerError) return;
        await sleep(backoff.next());
      }
    }
  }

  private attach(lease: OwnedLease, settings: ReadingSettings): void {
    this.track(new StreamWork(lease, settings));
  }

  private track(work: StreamWork): void {
    const previous = this.works.get(work.stream);
    if (previous) this.untrack(previous);
    this.works.set(work.stream, work);
    this.opening.push(work);
    this.scheduleOpen();
  }

  private untrack(work: StreamWork): void {
    work.closed = true;
    this.settling.get(work)?.();
    this.settling.delete(work);
    if (this.works.get(work.stream) === work) this.works.delete(work.stream);
    void this.io?.then((io) => {
      io.reads.forget(work);
      // Listened for since its opening began (or not at all: unsubscribing then changes nothing).
      io.wakeups.unwatch(this.unheeded([work]));
    }, () => undefined);
    const wake = work.wake;
    work.wake = undefined;
    wake?.();
  }

  /** The streams of these (ended) works that no other work reads now: a new lease of the same stream may be
   * listening already. */
  private unheeded(works: readonly StreamWork[]): string[] {
    return works.filter((work) => !this.works.has(work.stream)).map((work) => work.stream);
  }

  private scheduleOpen(delayMs = 0): void {
    if (this.openScheduled || !this.started || this.stopped || this.opening.length === 0) return;
    this.openScheduled = true;
    setTimeout(() => {
      this.openScheduled = false;
      void this.openPending();
    }, delayMs).unref();
  }

  /** Opens the streams waiting: their positions (one script call for many), their start, their announcements. A
   * stream that fails to open (a Redis error, a key the ACL does not allow) is tried again later on its own. */
  private async openPending(): Promise<void> {
    const batch = this.opening.splice(0).filter((work) => !work.closed);
    if (batch.length === 0) return;
    // What is to be tried again if this attempt stops here.
    let unopened: StreamWork[] = batch;
    try {
      const io = await this.ioStarted();
      // Listening starts while the positions load (a write from then on is heard); untrack() stops it.
      const listening = io.wakeups.watch(batch.map((work) => work.stream));
      listening.catch(() => undefined);
      const outcomes: OpenOutcome[] = [];
      for (let i = 0; i < batch.length; i += OPEN_BATCH) {
        const slice = batch.slice(i, i + OPEN_BATCH).map(({ stream, lease }) => ({ stream, token: lease.token, lbsId: lease.lbsId }));
        outcomes.push(...(await openPositions(this.context.scripts, this.context, slice)));
      }
      const starts = await Promise.allSettled(batch.map((work, i) => this.startOf(work, outcomes[i]!, io.nodes)));
      const failed: StreamWork[] = [];
      const started: StreamWork[] = [];
      const fresh: StreamWork[] = [];
      for (const [i, work] of batch.entries()) {
        const start = starts[i]!;
        if (start.status === 'rejected') {
          this.host.report(new StreamProcessingError(work.stream, `Stream "${work.stream}" could not be opened (tried again later): ${String(start.reason)}`, { cause: start.reason }));
          failed.push(work);
        } else if (start.value && !work.closed) {
          work.cursor = start.value.cursor;
          started.push(work);
          if (start.value.store) fresh.push(work);
        }
      }
      unopened = [...failed, ...started];
      await listening;
      await this.storeNewStarts(fresh);
      unopened = failed;
      if (failed.length === 0) this.openBackoff.reset();
      for (const work of started) {
        work.open = true;
        io.reads.wake(work);
        work.wake?.();
      }
    } catch (error) {
      this.host.report(error);
    }
    const again = unopened.filter((work) => !work.closed && !work.open);
    if (again.length > 0) {
      this.opening.push(...again);
      this.scheduleOpen(this.openBackoff.next());
    }
  }

  /** Where reading a stream starts, and whether that place must be stored at once ('new'); undefined when the
   * stream is not to be read (lease out of date, key of another type). */
  private async startOf(work: StreamWork, outcome: OpenOutcome, nodes: DataNodes): Promise<{ cursor: string; store: boolean } | undefined> {
    const { stream } = work;
    if (outcome.stale) {
      this.host.disown(work.lease, new StreamProcessingError(stream, `Stream "${stream}": a later owner has opened its position; this lease is out of date`));
      return undefined;
    }
    let lastId: string | undefined;
    try {
      lastId = lastGeneratedId(await nodes.send(stream, ['XINFO', 'STREAM', stream]));
    } catch (error) {
      if (errorCode(error) === 'WRONGTYPE') {
        await this.rejectWrongType(work);
        return undefined;
      }
      if (!(error instanceof Error && /no such key/i.test(error.message))) throw error;
    }
    if (outcome.position !== '') {
      if (lastId !== undefined && compareIds(lastId, outcome.position) < 0) {
        this.host.report(
          new StreamProcessingError(
            stream,
            `Stream "${stream}" ends at ${lastId}, before its stored position ${outcome.position} (deleted and created again?): processing starts from its first entry`,
          ),
        );
        return { cursor: '0-0', store: false };
      }
      return { cursor: outcome.position, store: false };
    }
    if (work.settings.startAt === 'new') return { cursor: lastId ?? '0-0', store: true };
    return { cursor: '0-0', store: false };
  }

  /** With startAt 'new', the place found at the first grant is stored at once: a takeover before the first commit
   * then starts there too, and skips nothing written since. */
  private async storeNewStarts(works: readonly StreamWork[]): Promise<void> {
    if (works.length === 0) return;
    const positions = works.map(({ stream, cursor, lease }) => ({ stream, id: cursor, token: lease.token, lbsId: lease.lbsId }));
    const result = await commitPositions(this.context.scripts, this.context, { nonce: this.session.incarnation().nonce, positions });
    if (result.lost) throw new RedisStreamClientError('The session ended while positions were opened');
  }

  private async rejectWrongType(work: StreamWork): Promise<void> {
    const reason = `key "${work.stream}" holds another type than a stream`;
    this.host.report(new StreamProcessingError(work.stream, `Stream "${work.stream}" cannot be processed: ${reason}; its LBS entry goes to the dead-letter stream`));
    await this.host.reject(work.lease, reason);
  }

  /** Moves an entry to the entry dead-letter stream and reports it; rejects when the write failed. */
  private async deadLetter(work: StreamWork, entry: ReadEntry, attempts: number, error: unknown): Promise<void> {
    const text = String(error instanceof Error ? error.message : error).slice(0, ERROR_TEXT_BYTES);
    await this.context.redis.sendCommand([
      'XADD', this.context.keys.entryDeadLetter, '*',
      'stream', work.stream,
      'id', entry.id,
      'attempts', String(attempts),
      'error', text,
      'fields', JSON.stringify(entry.fields),
    ]);
    this.host.report(new EntryDeadLetterError(work.stream, entry.id, attempts, error));
  }

  private trim(work: StreamWork, id: string): void {
    if (!this.settings?.trim || work.settings !== this.settings) return;
    void this.io
      ?.then((io) => io.nodes.send(work.stream, ['XTRIM', work.stream, 'MINID', nextId(id)]))
      .catch((error: unknown) => this.host.report(error));
  }

  private ioStarted(): Promise<Io> {
    this.io ??= this.access().then(({ nodes, database }) => {
      const reads = new StreamReads(nodes, () => this.settings?.maxBufferedEntries ?? Number.MAX_SAFE_INTEGER, {
        onRead: (work) => {
          const wake = work.wake;
          work.wake = undefined;
          if (wake) wake();
          else this.processor?.offer(work);
        },
        onWrongType: (work) => void this.rejectWrongType(work).catch((error: unknown) => this.host.report(error)),
        onError: (error) => this.host.report(error),
      });
      const wakeups = new StreamWakeups(nodes, this.connections, database, this.context.options.configureKeyspaceEvents, {
        onWrite: (stream) => {
          const work = this.works.get(stream);
          if (work) reads.wake(work);
        },
        onSweep: () => {
          for (const work of this.works.values()) reads.wake(work);
        },
        onError: (error) => this.host.report(error),
        onPolling: (node, why) => this.context.log.warn(POLLING_WARNINGS[why], { node }),
      });
      // Streams whose slot moved: listened for on their new master, and read at once (writes meanwhile were not
      // announced where they are now).
      nodes.onMoves(() => {
        wakeups.followMoves().catch((error: unknown) => this.host.report(error));
        for (const work of this.works.values()) reads.wake(work);
      });
      return { nodes, reads, wakeups };
    });
    this.io.catch(() => {
      this.io = undefined;
    });
    return this.io;
  }
}

/** The `last-generated-id` of an XINFO STREAM reply (a flat list of names and values). */
function lastGeneratedId(reply: unknown): string | undefined {
  if (!Array.isArray(reply)) return undefined;
  for (let i = 0; i + 1 < reply.length; i += 2) if (reply[i] === 'last-generated-id') return String(reply[i + 1]);
  return undefined;
}
