import { describe, expect, it, vi } from 'vitest';
import { StreamProcessingError } from '../../../lib/errors.js';
import type { StreamLease } from '../../../lib/events.js';
import type { EachBatch, EachEntry, StreamBatch, StreamEntry } from '../../../lib/processing/entry.js';
import { Processor } from '../../../lib/processing/processor.js';
import { parseRunOptions, type RunOptions } from '../../../lib/processing/run-options.js';
import { FakeSteps, readEntries, settle, Streams, useFakeTimersPerTest } from '../../support/processing-fakes.js';
import { deferred, isSettled, type Deferred } from '../../support/unit-fakes.js';

// lib/ imports setTimeout from node:timers/promises by name, which vi.useFakeTimers() does not reach: sleep on the
// global timers instead, which it does.
vi.mock('node:timers/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:timers/promises')>()),
  setTimeout: (ms: number) => new Promise<void>((resolve) => globalThis.setTimeout(resolve, ms)),
}));

/** One call of the handler, which ends when the spec says so. */
interface Call<T> {
  readonly input: T;
  readonly lease: StreamLease;
  /** Fake time at the call. */
  readonly at: number;
  readonly reply: Deferred<void>;
}

/** A handler whose calls the spec ends one by one ('wait'), or that succeeds at once ('succeed'). */
class Handler<T> {
  readonly calls: Array<Call<T>> = [];
  private running = 0;
  /** The most calls under way at the same time. */
  maxRunning = 0;

  constructor(private readonly mode: 'wait' | 'succeed' = 'wait') {}

  readonly call = (input: T, lease: StreamLease): Promise<void> => {
    const reply = deferred<void>();
    this.calls.push({ input, lease, at: Date.now(), reply });
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    const ended = reply.promise.finally(() => {
      this.running -= 1;
    });
    if (this.mode === 'succeed') reply.resolve();
    return ended;
  };

  get runningNow(): number {
    return this.running;
  }

  last(): Call<T> {
    return this.calls.at(-1)!;
  }
}

const entryIds = (handler: Handler<StreamEntry>, stream?: string): string[] =>
  handler.calls.filter((call) => stream === undefined || call.input.stream === stream).map((call) => call.input.id);


/** A processor over the streams of consumer `me`, with `run()`'s options and handler. */
function setUp(options: Omit<RunOptions, 'eachEntry' | 'eachBatch'>, handler: { eachEntry: EachEntry } | { eachBatch: EachBatch }) {
  const settings = parseRunOptions({ ...options, ...handler });
  const steps = new FakeSteps();
  const streams = new Streams(settings);
  const processor = new Processor(settings, steps);
  return { settings, steps, streams, processor };
}

useFakeTimersPerTest();

describe('Processor: order', () => {
  it('hands the entries of one stream one at a time, in order, each once processed before the next', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({}, { eachEntry: handler.call });
    const work = streams.open('s', readEntries(3));
    processor.offer(work);
    await settle();
    for (const [i, id] of ['1-0', '2-0', '3-0'].entries()) {
      expect(handler.last().input.id).toBe(id);
      await settle();
      // The next entry waits for this one.
      expect(handler.calls).toHaveLength(i + 1);
      expect(steps.processedOf('s')).toHaveLength(i);
      handler.last().reply.resolve();
      await settle();
      expect(steps.processedOf('s').at(-1)).toBe(id);
    }
    expect(entryIds(handler)).toEqual(['1-0', '2-0', '3-0']);
    expect(handler.maxRunning).toBe(1);
    expect(steps.takenCount).toBe(3);
    expect(work.buffer).toEqual([]);
  });

  it('hands each entry with its stream, id, fields, the lease token and attempt 1, and the lease', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { streams, processor } = setUp({}, { eachEntry: handler.call });
    const work = streams.open('orders:1', [{ id: '1700000000000-3', fields: { a: '1', b: '' } }]);
    processor.offer(work);
    await settle();
    expect(handler.calls[0]!.input).toEqual({ stream: 'orders:1', id: '1700000000000-3', fields: { a: '1', b: '' }, token: 7, attempt: 1 });
    expect(handler.calls[0]!.lease).toBe(work.lease);
  });

  it('marks each entry processed under the epoch it was read in', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({}, { eachEntry: handler.call });
    const work = streams.open('s', readEntries(1));
    work.epoch = 4;
    processor.offer(work);
    await settle();
    // setPosition moved the stream meanwhile: the processing must be able to tell this entry is from the old place.
    work.epoch = 5;
    handler.last().reply.resolve();
    await settle();
    expect(steps.processedIds).toEqual([{ stream: 's', id: '1-0', epoch: 4 }]);
  });

  it('goes on with entries read while the stream was being processed', async () => {
    const handler = new Handler<StreamEntry>();
    const { streams, processor } = setUp({}, { eachEntry: handler.call });
    const work = streams.open('s', readEntries(1));
    processor.offer(work);
    await settle();
    work.add(readEntries(2, 2));
    processor.offer(work); // a read while busy: no second turn at the same time
    await settle();
    expect(handler.calls).toHaveLength(1);
    handler.last().reply.resolve();
    await settle();
    handler.last().reply.resolve();
    await settle();
    handler.last().reply.resolve();
    await settle();
    expect(entryIds(handler)).toEqual(['1-0', '2-0', '3-0']);
    expect(handler.maxRunning).toBe(1);
  });
});

describe('Processor: concurrency and fairness', () => {
  it('processes at most `concurrency` streams at once; a waiting stream starts when one is done', async () => {
    const handler = new Handler<StreamEntry>();
    const { streams, processor } = setUp({ concurrency: 2 }, { eachEntry: handler.call });
    const works = ['a', 'b', 'c'].map((stream) => streams.open(stream, readEntries(1)));
    for (const work of works) processor.offer(work);
    await settle();
    expect(handler.calls.map((call) => call.input.stream)).toEqual(['a', 'b']);
    handler.calls[1]!.reply.resolve();
    await settle();
    expect(handler.calls.map((call) => call.input.stream)).toEqual(['a', 'b', 'c']);
    expect(handler.runningNow).toBe(2);
    expect(handler.maxRunning).toBe(2);
  });

  it('never runs more than `concurrency` handlers over many streams', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { steps, streams, processor } = setUp({ concurrency: 3 }, { eachEntry: handler.call });
    const works = Array.from({ length: 20 }, (_, i) => streams.open(`s${i}`, readEntries(5)));
    for (const work of works) processor.offer(work);
    await settle();
    expect(handler.calls).toHaveLength(100);
    expect(handler.maxRunning).toBeLessThanOrEqual(3);
    for (const work of works) expect(steps.processedOf(work.stream)).toEqual(['1-0', '2-0', '3-0', '4-0', '5-0']);
  });

  it('runs the streams side by side up to `concurrency`', async () => {
    const handler = new Handler<StreamEntry>();
    const { streams, processor } = setUp({ concurrency: 16 }, { eachEntry: handler.call });
    for (let i = 0; i < 20; i += 1) processor.offer(streams.open(`s${i}`, readEntries(2)));
    await settle();
    expect(handler.runningNow).toBe(16);
  });

  it('a stream with a long buffer yields its turn to a waiting stream after batchSize entries', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { streams, processor } = setUp({ concurrency: 1, batchSize: 2 }, { eachEntry: handler.call });
    processor.offer(streams.open('long', readEntries(5)));
    processor.offer(streams.open('short', readEntries(1)));
    await settle();
    expect(handler.calls.map((call) => `${call.input.stream} ${call.input.id}`)).toEqual([
      'long 1-0', 'long 2-0', 'short 1-0', 'long 3-0', 'long 4-0', 'long 5-0',
    ]);
  });

  it('takes turns among several long streams', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { streams, processor } = setUp({ concurrency: 1, batchSize: 1 }, { eachEntry: handler.call });
    for (const stream of ['a', 'b', 'c']) processor.offer(streams.open(stream, readEntries(2)));
    await settle();
    expect(handler.calls.map((call) => call.input.stream).join('')).toBe('abcabc');
  });
});

describe('Processor: failures', () => {
  it('retries a failing handler with the attempt number, after 100 then 200 ms, and stops when it succeeds', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 5 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    const start = Date.now();
    handler.last().reply.reject(new Error('boom 1'));
    await vi.advanceTimersByTimeAsync(99);
    expect(handler.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.calls).toHaveLength(2);
    handler.last().reply.reject(new Error('boom 2'));
    await vi.advanceTimersByTimeAsync(199);
    expect(handler.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(handler.calls).toHaveLength(3);
    handler.last().reply.resolve();
    await settle();
    expect(handler.calls.slice(0, 3).map((call) => [call.input.id, call.input.attempt, call.at - start])).toEqual([
      ['1-0', 1, 0],
      ['1-0', 2, 100],
      ['1-0', 3, 300],
    ]);
    // The next entry starts again at attempt 1, and the first was processed once.
    expect(handler.calls[3]!.input).toMatchObject({ id: '2-0', attempt: 1 });
    expect(steps.processedOf('s')).toEqual(['1-0']);
    expect(steps.deadLettered).toEqual([]);
    // For metrics: two calls failed, the entry was given again twice, the third call returned.
    expect(steps.handledCalls.slice(0, 3)).toEqual([
      { entries: 1, outcome: 'failed' },
      { entries: 1, outcome: 'failed' },
      { entries: 1, outcome: 'processed' },
    ]);
    expect(steps.retriedEntries).toBe(2);
  });

  it('retries a handler that throws synchronously', async () => {
    let calls = 0;
    const { steps, streams, processor } = setUp({}, {
      eachEntry: () => {
        calls += 1;
        if (calls === 1) throw new Error('sync boom');
      },
    });
    processor.offer(streams.open('s', readEntries(1)));
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(2);
    expect(steps.processedOf('s')).toEqual(['1-0']);
  });

  it('dead-letters the entry after maxAttempts calls, with the last error, counts it processed and goes on', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 3 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      expect(handler.last().input).toMatchObject({ id: '1-0', attempt });
      handler.last().reply.reject(new Error(`boom ${attempt}`));
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(steps.deadLettered).toEqual([{ stream: 's', id: '1-0', attempts: 3, error: new Error('boom 3') }]);
    expect(steps.log).toEqual(['dead s 1-0', 'processed s 1-0']);
    expect(handler.calls.filter((call) => call.input.id === '1-0')).toHaveLength(3);
    expect(handler.last().input).toMatchObject({ id: '2-0', attempt: 1 });
  });

  it('with maxAttempts 1 dead-letters at the first failure, with no retry', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 1 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(1)));
    await settle();
    handler.last().reply.reject(new Error('once'));
    await settle();
    expect(steps.deadLettered.map((dead) => dead.attempts)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.calls).toHaveLength(1);
  });

  // maxAttempts 1: the failure would otherwise be the last attempt, and dead-lettered.
  it.each([1, 3])('a handler failing after its lease ended is neither retried nor dead-lettered, nor its entry processed (maxAttempts %i)', async (maxAttempts) => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(3)));
    await settle();
    streams.lose('s');
    handler.last().reply.reject(new Error('aborted by lease.signal'));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.calls).toHaveLength(1);
    expect(steps.deadLettered).toEqual([]);
    expect(steps.processedIds).toEqual([]);
  });

  it('a lease that ends while a retry waits stops the retries: no further call, no dead letter', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 3 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(1)));
    await settle();
    handler.last().reply.reject(new Error('boom'));
    await vi.advanceTimersByTimeAsync(50);
    streams.lose('s');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.calls).toHaveLength(1);
    expect(steps.deadLettered).toEqual([]);
    expect(steps.processedIds).toEqual([]);
  });

  it('an entry whose retry falls while the session is not valid is retried later, not skipped', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 3 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    handler.last().reply.reject(new Error('boom'));
    // The session's validity window ends during the retry delay, and comes back (renewed in time): the lease stays.
    steps.sessionValid = false;
    await vi.advanceTimersByTimeAsync(150);
    steps.sessionValid = true;
    await vi.advanceTimersByTimeAsync(1000);
    handler.last().reply.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    handler.last().reply.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(handler.calls.map((call) => `${call.input.id}#${call.input.attempt}`)).toEqual(['1-0#1', '1-0#2', '2-0#1']);
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
  });

  it('an entry whose dead-lettering fails is not skipped: it is written once it can be, before anything after it', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 1 }, { eachEntry: handler.call });
    steps.deadLetterReply = () => Promise.reject(new Error('XADD failed: connection lost'));
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    handler.last().reply.reject(new Error('poison'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(steps.reports).toContainEqual(new Error('XADD failed: connection lost'));
    // Entry 2-0 must not be processed (and so committed) while 1-0 is neither processed nor in the dead-letter stream:
    // its position would move past an entry that was lost.
    expect(handler.calls.map((call) => call.input.id)).not.toContain('2-0');
    expect(steps.processedOf('s')).toEqual([]);
    // The write goes through at last: 1-0 is dead-lettered once, then 2-0 is handled.
    steps.deadLetterReply = () => Promise.resolve();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(steps.deadLettered.map((dead) => dead.id)).toEqual(['1-0']);
    handler.last().reply.resolve();
    await vi.advanceTimersByTimeAsync(100);
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
  });

  it('leaves an entry whose dead-lettering fails to the next owner once the lease ends', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 1 }, { eachEntry: handler.call });
    steps.deadLetterReply = () => Promise.reject(new Error('XADD failed: connection lost'));
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    handler.last().reply.reject(new Error('poison'));
    await vi.advanceTimersByTimeAsync(1000);
    streams.lose('s');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.calls.map((call) => call.input.id)).toEqual(['1-0']);
    expect(steps.deadLettered).toEqual([]);
    expect(steps.processedOf('s')).toEqual([]);
  });
});

describe('Processor: held back', () => {
  it('starts no handler while mayStart is false, and looks at the stream again every 100 ms, not in a busy loop', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { steps, streams, processor } = setUp({}, { eachEntry: handler.call });
    steps.sessionValid = false;
    const work = streams.open('s', readEntries(2));
    processor.offer(work);
    await vi.advanceTimersByTimeAsync(1000);
    expect(handler.calls).toEqual([]);
    // Entries stay in the buffer, not taken.
    expect(work.buffer.map((entry) => entry.id)).toEqual(['1-0', '2-0']);
    expect(steps.takenCount).toBe(0);
    expect(steps.mayStartCalls).toBeGreaterThanOrEqual(5);
    expect(steps.mayStartCalls).toBeLessThanOrEqual(12);
    // Valid again: the stream is picked up with no new read.
    steps.sessionValid = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(entryIds(handler)).toEqual(['1-0', '2-0']);
  });

  it('a stream whose lease ended is dropped, not looked at again', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { steps, streams, processor } = setUp({}, { eachEntry: handler.call });
    const work = streams.open('s', readEntries(2));
    streams.lose('s');
    processor.offer(work);
    await vi.advanceTimersByTimeAsync(1000);
    expect(handler.calls).toEqual([]);
    expect(steps.mayStartCalls).toBeLessThanOrEqual(1);
  });
});

describe('Processor: end marker (isEnd)', () => {
  const isEnd = (entry: StreamEntry): boolean => entry.fields.end === '1';
  const withEnd = () => [...readEntries(2), { id: '3-0', fields: { end: '1' } }, ...readEntries(2, 4)];

  it('does not hand the marker to the handler, and reaches the end once, after every entry before it is processed', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ isEnd }, { eachEntry: handler.call });
    const work = streams.open('s', withEnd());
    processor.offer(work);
    await settle();
    handler.last().reply.resolve();
    await settle();
    // 2-0 is under way: the end is not reached yet.
    expect(steps.log).toEqual(['processed s 1-0']);
    handler.last().reply.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(steps.log).toEqual(['processed s 1-0', 'processed s 2-0', 'end s']);
    expect(entryIds(handler)).toEqual(['1-0', '2-0']);
    // Entries after the marker are never handed out.
    processor.offer(work);
    await vi.advanceTimersByTimeAsync(1000);
    expect(entryIds(handler)).toEqual(['1-0', '2-0']);
    expect(steps.log.filter((line) => line.startsWith('end'))).toHaveLength(1);
  });

  it('a marker first in the buffer ends the stream with no handler call', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    const { steps, streams, processor } = setUp({ isEnd }, { eachEntry: handler.call });
    processor.offer(streams.open('s', [{ id: '9-0', fields: { end: '1' } }]));
    await settle();
    expect(handler.calls).toEqual([]);
    expect(steps.log).toEqual(['end s']);
    expect(steps.takenCount).toBe(1);
  });

  it('an isEnd that throws is reported, the entry taken as no marker and processed: the stream goes on', async () => {
    const handler = new Handler<StreamEntry>('succeed');
    let calls = 0;
    const throwing = (entry: StreamEntry): boolean => {
      calls += 1;
      if (entry.id === '1-0') throw new Error('isEnd broke');
      return false;
    };
    const { steps, streams, processor } = setUp({ isEnd: throwing }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(2)));
    await vi.advanceTimersByTimeAsync(1000);
    expect(entryIds(handler)).toEqual(['1-0', '2-0']);
    expect(steps.processedOf('s')).toEqual(['1-0', '2-0']);
    expect(steps.reports).toHaveLength(1);
    expect(steps.reports[0]).toBeInstanceOf(StreamProcessingError);
    // Asked once per entry, not again and again.
    expect(calls).toBe(2);
  });

  it('cuts a batch before the marker: the batch is processed, then the end reached', async () => {
    const handler = new Handler<StreamBatch>('succeed');
    const { steps, streams, processor } = setUp({ isEnd, batchSize: 10 }, { eachBatch: handler.call });
    processor.offer(streams.open('s', withEnd()));
    await settle();
    expect(handler.calls.map((call) => call.input.entries.map((entry) => entry.id))).toEqual([['1-0', '2-0']]);
    expect(steps.log).toEqual(['processed s 2-0', 'end s']);
  });
});

describe('Processor: eachBatch', () => {
  const batchIds = (handler: Handler<StreamBatch>): string[][] => handler.calls.map((call) => call.input.entries.map((entry) => entry.id));

  it('hands consecutive entries in batches of at most batchSize, each batch processed up to its last entry', async () => {
    const handler = new Handler<StreamBatch>('succeed');
    const { steps, streams, processor } = setUp({ batchSize: 3 }, { eachBatch: handler.call });
    const work = streams.open('s', readEntries(7));
    processor.offer(work);
    await settle();
    expect(batchIds(handler)).toEqual([['1-0', '2-0', '3-0'], ['4-0', '5-0', '6-0'], ['7-0']]);
    expect(steps.processedOf('s')).toEqual(['3-0', '6-0', '7-0']);
    expect(handler.calls[0]!.input).toMatchObject({ stream: 's', token: 7 });
    expect(handler.calls[0]!.input.entries[0]).toEqual({ stream: 's', id: '1-0', fields: { n: '1' }, token: 7, attempt: 1 });
    expect(handler.calls[0]!.lease).toBe(work.lease);
  });

  it('hands what the buffer holds when it holds fewer than batchSize', async () => {
    const handler = new Handler<StreamBatch>('succeed');
    const { streams, processor } = setUp({ batchSize: 100 }, { eachBatch: handler.call });
    processor.offer(streams.open('s', readEntries(4)));
    await settle();
    expect(batchIds(handler)).toEqual([['1-0', '2-0', '3-0', '4-0']]);
  });

  it('one batch of a stream at a time', async () => {
    const handler = new Handler<StreamBatch>();
    const { streams, processor } = setUp({ batchSize: 2 }, { eachBatch: handler.call });
    processor.offer(streams.open('s', readEntries(4)));
    await settle();
    expect(handler.calls).toHaveLength(1);
    handler.last().reply.resolve();
    await settle();
    expect(batchIds(handler)).toEqual([['1-0', '2-0'], ['3-0', '4-0']]);
    expect(handler.maxRunning).toBe(1);
  });

  it('retries the whole batch with the attempt number on every entry, then dead-letters all of it', async () => {
    const handler = new Handler<StreamBatch>();
    const { steps, streams, processor } = setUp({ batchSize: 3, maxAttempts: 2 }, { eachBatch: handler.call });
    processor.offer(streams.open('s', readEntries(4)));
    await settle();
    handler.last().reply.reject(new Error('batch boom 1'));
    await vi.advanceTimersByTimeAsync(100);
    expect(batchIds(handler)).toEqual([['1-0', '2-0', '3-0'], ['1-0', '2-0', '3-0']]);
    expect(handler.last().input.entries.map((entry) => entry.attempt)).toEqual([2, 2, 2]);
    handler.last().reply.reject(new Error('batch boom 2'));
    await settle();
    expect(steps.deadLettered).toEqual(
      ['1-0', '2-0', '3-0'].map((id) => ({ stream: 's', id, attempts: 2, error: new Error('batch boom 2') })),
    );
    expect(steps.log).toEqual(['dead s 1-0', 'dead s 2-0', 'dead s 3-0', 'processed s 3-0']);
    expect(batchIds(handler).at(-1)).toEqual(['4-0']);
  });
});

describe('Processor: drain', () => {
  it('resolves at once when nothing runs', async () => {
    const { processor } = setUp({}, { eachEntry: () => undefined });
    expect(await isSettled(processor.drain())).toBe(true);
  });

  it('resolves when the running handlers end, and starts nothing new meanwhile or after', async () => {
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ concurrency: 2 }, { eachEntry: handler.call });
    processor.offer(streams.open('a', readEntries(3)));
    processor.offer(streams.open('b', readEntries(3)));
    processor.offer(streams.open('waiting', readEntries(1)));
    await settle();
    const drained = processor.drain();
    processor.offer(streams.open('late', readEntries(1)));
    await settle();
    expect(await isSettled(drained)).toBe(false);
    handler.calls[0]!.reply.resolve();
    await settle();
    expect(await isSettled(drained)).toBe(false);
    handler.calls[1]!.reply.resolve();
    await settle();
    expect(await isSettled(drained)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(handler.calls.map((call) => `${call.input.stream} ${call.input.id}`)).toEqual(['a 1-0', 'b 1-0']);
    // What ended is processed: it is committed at the hand-off.
    expect(steps.processedIds.map((entry) => `${entry.stream} ${entry.id}`)).toEqual(['a 1-0', 'b 1-0']);
  });

  it('a retry under way when draining starts goes on: drain resolves once the entry is processed or dead-lettered', async () => {
    // close() waits (up to its timeoutMs) for the entry being handled, retries included; no other entry starts.
    const handler = new Handler<StreamEntry>();
    const { steps, streams, processor } = setUp({ maxAttempts: 3 }, { eachEntry: handler.call });
    processor.offer(streams.open('s', readEntries(2)));
    await settle();
    const drained = processor.drain();
    handler.last().reply.reject(new Error('boom'));
    await vi.advanceTimersByTimeAsync(100);
    expect(handler.last().input).toMatchObject({ id: '1-0', attempt: 2 });
    expect(await isSettled(drained)).toBe(false);
    handler.last().reply.resolve();
    await settle();
    expect(await isSettled(drained)).toBe(true);
    expect(steps.processedOf('s')).toEqual(['1-0']);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(handler.calls).toHaveLength(2);
  });
});
