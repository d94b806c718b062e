import type { ReadEntry, StreamEntry } from './entry.js';
import { isEndMarker, toEntry } from './processor.js';
import type { StreamWork } from './stream-work.js';

/** What the iterator needs from the rest of the processing. */
export interface IteratorDeps {
  mayStart(work: StreamWork): boolean;
  taken(work: StreamWork, count: number): void;
  processed(work: StreamWork, id: string, epoch: number): void;
  reachedEnd(work: StreamWork): Promise<void>;
  /** The loop was left: the stream is not read any more (its lease stays owned). */
  left(work: StreamWork): void;
  report(error: unknown): void;
  /** No entry yielded waits to be marked processed any more (for a hand-off waiting on it). */
  settled(work: StreamWork): void;
}

const DONE: IteratorResult<StreamEntry> = { done: true, value: undefined };

/**
 * `lease.entries()`: yields the stream's entries in order; asking for the next one marks the one before processed.
 * Ends when the lease ends, the stream is finished, or its end marker (`isEnd`) is reached. Leaving the loop
 * (`return()`: break, throw) does not mark the last entry processed.
 */
export function leaseEntries(work: StreamWork, deps: IteratorDeps): AsyncIterableIterator<StreamEntry> {
  let yielded: { entry: ReadEntry; epoch: number } | undefined;
  let finished = false;
  // Calls run one after another, as a for-await loop makes them, even when a caller does not wait.
  let queue: Promise<unknown> = Promise.resolve();

  const finish = (): IteratorResult<StreamEntry> => {
    if (!finished) {
      finished = true;
      work.current = undefined;
      deps.settled(work);
      deps.left(work);
    }
    return DONE;
  };

  const next = async (): Promise<IteratorResult<StreamEntry>> => {
    if (yielded) {
      deps.processed(work, yielded.entry.id, yielded.epoch);
      yielded = undefined;
      work.current = undefined;
      deps.settled(work);
    }
    for (;;) {
      if (finished || work.closed || work.lease.ended) return finish();
      const head = work.buffer[0];
      if (head && work.open && deps.mayStart(work)) {
        work.take(1);
        deps.taken(work, 1);
        if (isEndMarker(work, head, deps.report)) {
          await deps.reachedEnd(work);
          return finish();
        }
        yielded = { entry: head, epoch: work.epoch };
        work.current = head;
        return { done: false, value: toEntry(work, head, 1) };
      }
      // Woken by a read, by the end of the lease, or, when the session's validity window ended, soon after.
      await new Promise<void>((resolve) => {
        work.wake = resolve;
        if (head) setTimeout(resolve, 100).unref();
      });
      work.wake = undefined;
    }
  };

  const iterator: AsyncIterableIterator<StreamEntry> = {
    [Symbol.asyncIterator]: () => iterator,
    next: () => {
      const result = queue.then(next);
      queue = result.catch(() => undefined);
      return result;
    },
    // At once, even while a next() waits for entries: that one then ends too. The last entry stays unprocessed.
    return: () => {
      yielded = undefined;
      finish();
      work.wake?.();
      return Promise.resolve(DONE);
    },
  };
  return iterator;
}
