/**
 * Stand-ins for unit specs of lib/processing: real StreamWork over real leases (a LeaseRegistry with no processing
 * attached), entries made up by number, and the steps the processor and the iterator take, recorded in one log.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { LeaseRegistry } from '../../lib/leases.js';
import type { ReadEntry } from '../../lib/processing/entry.js';
import type { IteratorDeps } from '../../lib/processing/lease-entries.js';
import type { ProcessorDeps } from '../../lib/processing/processor.js';
import type { ReadingSettings } from '../../lib/processing/run-options.js';
import { StreamWork } from '../../lib/processing/stream-work.js';

/** Entries `<n>-0` with fields `{ n }`, for n = from .. from + count - 1. */
export function readEntries(count: number, from = 1): ReadEntry[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${from + i}-0`, fields: { n: String(from + i) } }));
}

/** The leases of consumer `me`, and the work of each stream, open (its position loaded) as the processing makes it. */
export class Streams {
  readonly registry = new LeaseRegistry('me');

  constructor(private readonly settings: ReadingSettings) {}

  /** An owned stream (lease token 7) whose buffer holds `entries`, ready to be processed. */
  open(stream: string, entries: readonly ReadEntry[] = [], settings: ReadingSettings = this.settings): StreamWork {
    const lease = this.registry.add({ stream, lbsId: '1-0', info: {}, token: 7, origin: 'new' })!;
    const work = new StreamWork(lease, settings);
    work.open = true;
    work.add([...entries]);
    return work;
  }

  /** The lease of the stream is lost (taken over, session gone). */
  lose(stream: string): void {
    this.registry.end(stream, new Error(`lease of ${stream} lost`));
  }
}

export interface DeadLettered {
  readonly stream: string;
  readonly id: string;
  readonly attempts: number;
  readonly error: unknown;
}

/**
 * The steps of the processing as the processor and `lease.entries()` call them, each recorded: `log` keeps their
 * order ("processed s 2-0", "end s", "dead s 1-0"). `mayStart` answers as the processing does: the work is live and
 * the session valid (`sessionValid`, which a spec turns off).
 */
export class FakeSteps implements ProcessorDeps, IteratorDeps {
  sessionValid = true;
  mayStartCalls = 0;
  takenCount = 0;
  readonly log: string[] = [];
  readonly processedIds: Array<{ stream: string; id: string; epoch: number }> = [];
  readonly deadLettered: DeadLettered[] = [];
  readonly reports: unknown[] = [];
  readonly leftWorks: StreamWork[] = [];
  /** What deadLetter() does after recording (a spec makes it fail, as an XADD to a Redis that is away would). */
  deadLetterReply: () => Promise<void> = () => Promise.resolve();
  /** What reachedEnd() waits for after closing the work (finishing the stream in Redis). */
  reachedEndReply: () => Promise<void> = () => Promise.resolve();

  readonly mayStart = (work: StreamWork): boolean => {
    this.mayStartCalls += 1;
    return work.live && this.sessionValid;
  };

  readonly settled = (): void => undefined;

  /** Each handler call's outcome, with how many entries it was given. */
  readonly handledCalls: Array<{ entries: number; outcome: 'processed' | 'failed' }> = [];
  retriedEntries = 0;

  readonly handled = (entries: number, _ms: number, outcome: 'processed' | 'failed'): void => {
    this.handledCalls.push({ entries, outcome });
  };

  readonly retried = (entries: number): void => {
    this.retriedEntries += entries;
  };

  readonly taken = (_work: StreamWork, count: number): void => {
    this.takenCount += count;
  };

  readonly processed = (work: StreamWork, id: string, epoch: number): void => {
    this.processedIds.push({ stream: work.stream, id, epoch });
    this.log.push(`processed ${work.stream} ${id}`);
  };

  /** As the processing does: the work is closed at once, then the stream is finished. */
  readonly reachedEnd = async (work: StreamWork): Promise<void> => {
    work.closed = true;
    this.log.push(`end ${work.stream}`);
    await this.reachedEndReply();
  };

  /** One entry per call, as the processing writes them; a failed write is recorded only once it succeeds. */
  readonly deadLetter = async (work: StreamWork, entry: ReadEntry, attempts: number, error: unknown): Promise<void> => {
    await this.deadLetterReply();
    this.deadLettered.push({ stream: work.stream, id: entry.id, attempts, error });
    this.log.push(`dead ${work.stream} ${entry.id}`);
  };

  readonly report = (error: unknown): void => {
    this.reports.push(error);
  };

  readonly left = (work: StreamWork): void => {
    this.leftWorks.push(work);
    this.log.push(`left ${work.stream}`);
  };

  /** Ids processed in `stream`, in order. */
  processedOf(stream: string): string[] {
    return this.processedIds.filter((entry) => entry.stream === stream).map((entry) => entry.id);
  }
}

/** Fake timers for every test of the spec file (registers its hooks). */
export function useFakeTimersPerTest(): void {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
}

/** Lets what is due now run (immediates, replies, and the promise chains after them), with no fake time passing. */
export async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

