import { describe, expect, it, vi } from 'vitest';
import type { ReadEntry, StreamEntry } from '../../../lib/processing/entry.js';
import { leaseEntries } from '../../../lib/processing/lease-entries.js';
import { parseEntriesOptions, type EntriesOptions } from '../../../lib/processing/run-options.js';
import type { StreamWork } from '../../../lib/processing/stream-work.js';
import { FakeSteps, readEntries, settle, Streams, useFakeTimersPerTest } from '../../support/processing-fakes.js';
import { isSettled } from '../../support/unit-fakes.js';

function setUp(options: EntriesOptions = {}, entries: readonly ReadEntry[] = []) {
  const steps = new FakeSteps();
  const streams = new Streams(parseEntriesOptions(options));
  const work = streams.open('s', entries);
  const iterator = leaseEntries(work, steps);
  return { steps, streams, work, iterator };
}

/** Entries were read, as the processing hands them over: into the buffer, then the waiting iterator is woken. */
function deliver(work: StreamWork, entries: readonly ReadEntry[]): void {
  work.add([...entries]);
  wake(work);
}

function wake(work: StreamWork): void {
  const resolve = work.wake;
  work.wake = undefined;
  resolve?.();
}

const idOf = (result: IteratorResult<StreamEntry>): string | undefined => (result.done ? undefined : result.value.id);


useFakeTimersPerTest();

describe('lease.entries(): order', () => {
  it('yields the entries in order, each with its stream, id, fields, the lease token and attempt 1', async () => {
    const { iterator } = setUp({}, readEntries(3));
    const seen: StreamEntry[] = [];
    for (let i = 0; i < 3; i += 1) {
      const result = await iterator.next();
      if (!result.done) seen.push(result.value);
    }
    expect(seen).toEqual([1, 2, 3].map((n) => ({ stream: 's', id: `${n}-0`, fields: { n: String(n) }, token: 7, attempt: 1 })));
  });

  it('waits for entries to be read, then yields them', async () => {
    const { work, iterator } = setUp();
    const pending = iterator.next();
    await settle();
    expect(await isSettled(pending)).toBe(false);
    deliver(work, readEntries(1));
    expect(idOf(await pending)).toBe('1-0');
  });

  it('is its own async iterator', () => {
    const { iterator } = setUp();
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
  });

  it('counts each entry taken out of the buffer, for the reading bound', async () => {
    const { steps, work, iterator } = setUp({}, readEntries(2));
    await iterator.next();
    expect(steps.takenCount).toBe(1);
    expect(work.buffer.map((entry) => entry.id)).toEqual(['2-0']);
  });
});

describe('lease.entries(): processed', () => {
  it('marks the previous entry processed only when the next is asked for', async () => {
    const { steps, work, iterator } = setUp({}, readEntries(3));
    await iterator.next();
    // Yielded, still under way (the lag counts from it).
    expect(steps.processedIds).toEqual([]);
    expect(work.current?.id).toBe('1-0');
    await iterator.next();
    expect(steps.processedOf('s')).toEqual(['1-0']);
    expect(work.current?.id).toBe('2-0');
    await iterator.next();
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
  });

  it('marks the previous entry processed as soon as the next is asked for, before any next entry is there', async () => {
    const { steps, iterator } = setUp({}, readEntries(1));
    await iterator.next();
    const pending = iterator.next();
    await settle();
    expect(steps.processedOf('s')).toEqual(['1-0']);
    expect(await isSettled(pending)).toBe(false);
  });

  it('marks an entry processed under the epoch it was yielded in', async () => {
    const { steps, work, iterator } = setUp({}, readEntries(2));
    work.epoch = 3;
    await iterator.next();
    // setPosition moved the stream meanwhile: the processing must be able to tell the entry is from the old place.
    work.epoch = 4;
    await iterator.next();
    expect(steps.processedIds).toEqual([{ stream: 's', id: '1-0', epoch: 3 }]);
  });
});

describe('lease.entries(): leaving the loop', () => {
  it('break marks nothing more processed: the last entry yielded stays to be processed again', async () => {
    const { steps, work, iterator } = setUp({}, readEntries(5));
    const seen: string[] = [];
    for await (const entry of iterator) {
      seen.push(entry.id);
      if (entry.id === '2-0') break;
    }
    expect(seen).toEqual(['1-0', '2-0']);
    expect(steps.processedOf('s')).toEqual(['1-0']);
    expect(steps.leftWorks).toEqual([work]);
    expect(work.current).toBeUndefined();
  });

  it('a throw out of the loop marks nothing more processed either', async () => {
    const { steps, iterator } = setUp({}, readEntries(5));
    await expect(async () => {
      for await (const entry of iterator) if (entry.id === '3-0') throw new Error('handler failed');
    }).rejects.toThrow('handler failed');
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
  });

  it('return() ends a pending next() at once, and every later next()', async () => {
    const { steps, iterator } = setUp();
    const pending = iterator.next();
    await settle();
    expect(await isSettled(pending)).toBe(false);
    expect(await iterator.return!()).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    expect(steps.leftWorks).toHaveLength(1);
  });

  it('return() does not wait for the next() calls queued before it', async () => {
    const { iterator } = setUp();
    const first = iterator.next();
    const second = iterator.next();
    const returned = iterator.return!();
    expect(await isSettled(returned)).toBe(true);
    expect(await first).toMatchObject({ done: true });
    expect(await second).toMatchObject({ done: true });
  });
});

describe('lease.entries(): the end', () => {
  it('ends a waiting next() when the lease ends (the processing wakes it)', async () => {
    const { steps, streams, work, iterator } = setUp({}, readEntries(1));
    await iterator.next();
    const pending = iterator.next();
    await settle();
    streams.lose('s');
    wake(work);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(steps.leftWorks).toEqual([work]);
  });

  it('yields nothing once the lease has ended, even entries still in the buffer', async () => {
    const { streams, iterator } = setUp({}, readEntries(3));
    streams.lose('s');
    expect(await iterator.next()).toMatchObject({ done: true });
  });

  it('ends when the work is closed (the stream finished with doneStream, or the client stopped)', async () => {
    const { steps, work, iterator } = setUp({}, readEntries(1));
    await iterator.next();
    const pending = iterator.next();
    await settle();
    work.closed = true;
    wake(work);
    expect(await pending).toMatchObject({ done: true });
    expect(steps.leftWorks).toEqual([work]);
  });

  it('isEnd: the marker is not yielded; the end is reached once every entry before it is processed, then the loop ends', async () => {
    const isEnd = (entry: StreamEntry): boolean => entry.fields.end === '1';
    const entries = [...readEntries(2), { id: '3-0', fields: { end: '1' } }, ...readEntries(2, 4)];
    const { steps, iterator } = setUp({ isEnd }, entries);
    const seen: string[] = [];
    for await (const entry of iterator) seen.push(entry.id);
    expect(seen).toEqual(['1-0', '2-0']);
    expect(steps.log).toEqual(['processed s 1-0', 'processed s 2-0', 'end s', 'left s']);
    expect(steps.takenCount).toBe(3);
    expect(await iterator.next()).toMatchObject({ done: true });
    expect(steps.log.filter((line) => line === 'end s')).toHaveLength(1);
  });
});

describe('lease.entries(): calls made without awaiting', () => {
  it('run in order, as a for-await loop makes them', async () => {
    const { steps, iterator } = setUp({}, readEntries(3));
    const results = await Promise.all([iterator.next(), iterator.next(), iterator.next()]);
    expect(results.map(idOf)).toEqual(['1-0', '2-0', '3-0']);
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
  });

  it('waiting ones get the entries read later, in order', async () => {
    const { work, iterator } = setUp();
    const first = iterator.next();
    const second = iterator.next();
    await settle();
    deliver(work, readEntries(1));
    await settle();
    expect(idOf(await first)).toBe('1-0');
    expect(await isSettled(second)).toBe(false);
    deliver(work, readEntries(1, 2));
    expect(idOf(await second)).toBe('2-0');
  });
});

describe('lease.entries(): held back', () => {
  it('yields nothing while mayStart is false, looks again 100 ms later, and yields once it is true', async () => {
    const { steps, iterator } = setUp({}, readEntries(1));
    steps.sessionValid = false;
    const pending = iterator.next();
    await vi.advanceTimersByTimeAsync(1000);
    expect(await isSettled(pending)).toBe(false);
    // Looked at about every 100 ms, not in a busy loop.
    expect(steps.mayStartCalls).toBeGreaterThanOrEqual(5);
    expect(steps.mayStartCalls).toBeLessThanOrEqual(12);
    expect(steps.takenCount).toBe(0);
    steps.sessionValid = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(idOf(await pending)).toBe('1-0');
  });

  it('yields nothing before the stream is open (its position loaded)', async () => {
    const { work, iterator } = setUp({}, readEntries(1));
    work.open = false;
    const pending = iterator.next();
    await vi.advanceTimersByTimeAsync(500);
    expect(await isSettled(pending)).toBe(false);
    work.open = true;
    wake(work);
    expect(idOf(await pending)).toBe('1-0');
  });
});
