import { describe, expect, it, vi } from 'vitest';
import type { DataNodes } from '../../../lib/processing/data-nodes.js';
import { parseEntriesOptions } from '../../../lib/processing/run-options.js';
import { compareIds } from '../../../lib/processing/stream-id.js';
import { StreamReads } from '../../../lib/processing/stream-reads.js';
import type { StreamWork } from '../../../lib/processing/stream-work.js';
import type { Duplicable } from '../../../lib/redis.js';
import { Streams, settle, useFakeTimersPerTest } from '../../support/processing-fakes.js';
import { deferred, type Deferred } from '../../support/unit-fakes.js';

// Between two reads lib/ yields to the event loop with setImmediate from node:timers/promises, which
// vi.useFakeTimers() does not reach. Nothing waits for I/O in a unit spec: a next tick stands in, so that the reading
// goes on within the fake time it is given.
vi.mock('node:timers/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:timers/promises')>()),
  setImmediate: () => new Promise<void>((resolve) => process.nextTick(resolve)),
}));

type RawEntry = [id: string, flat: string[]];

/** One XREAD as sent: its COUNT, and each key with the id it reads after. */
interface Xread {
  readonly routedBy: string;
  readonly count: number;
  readonly keys: string[];
  readonly after: string[];
  /** Fake time when it went out. */
  readonly at: number;
}

/**
 * The data streams of one Redis, answering XREAD as Redis 7 does over RESP2: `[[key, [[id, [field, value, ...]],
 * ...]], ...]` for the keys with entries after their id (at most COUNT each), null when none has any, and a WRONGTYPE
 * error for the whole call when any key holds another type. `group` splits keys as a cluster would (by the text in
 * braces), so that a spec can see that one XREAD names keys of one group only.
 */
class FakeDataNodes implements DataNodes {
  readonly streams = new Map<string, RawEntry[]>();
  readonly notStreams = new Set<string>();
  readonly xreads: Xread[] = [];
  /** Errors the next calls fail with (a connection lost), one per call. */
  readonly failures: Error[] = [];
  /** While set, each reply waits for the spec. */
  hold = false;
  readonly held: Array<Deferred<void>> = [];
  clustered = false;

  get single(): boolean {
    return !this.clustered;
  }

  onMoves(): void {}

  stop(): void {}

  add(stream: string, count: number, from = 1): void {
    const entries = this.streams.get(stream) ?? [];
    for (let n = from; n < from + count; n += 1) entries.push([`${n}-0`, ['n', String(n)]]);
    this.streams.set(stream, entries);
  }

  async send(key: string, args: string[]): Promise<unknown> {
    expect(args.slice(0, 2)).toEqual(['XREAD', 'COUNT']);
    expect(args[3]).toBe('STREAMS');
    const count = Number(args[2]);
    const rest = args.slice(4);
    const keys = rest.slice(0, rest.length / 2);
    const after = rest.slice(rest.length / 2);
    this.xreads.push({ routedBy: key, count, keys, after, at: Date.now() });
    if (this.hold) {
      const reply = deferred<void>();
      this.held.push(reply);
      await reply.promise;
    }
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (keys.some((name) => this.notStreams.has(name))) {
      throw new Error('WRONGTYPE Operation against a key holding the wrong kind of value');
    }
    const reply: Array<[string, RawEntry[]]> = [];
    for (const [i, name] of keys.entries()) {
      const entries = (this.streams.get(name) ?? []).filter(([id]) => compareIds(id, after[i]!) > 0).slice(0, count);
      if (entries.length > 0) reply.push([name, entries]);
    }
    return reply.length > 0 ? reply : null;
  }

  group(keys: readonly string[]): string[][] {
    if (!this.clustered) return [[...keys]];
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const tag = /\{(.+?)\}/.exec(key)?.[1] ?? key;
      groups.set(tag, [...(groups.get(tag) ?? []), key]);
    }
    return [...groups.values()];
  }

  nodeOf(): { readonly name: string; readonly node: Duplicable } {
    return { name: '', node: {} as Duplicable };
  }

  /** Streams named in XREADs, in order. */
  get keysRead(): string[] {
    return this.xreads.flatMap((xread) => xread.keys);
  }
}

function setUp({ maxBuffered = 1_000_000, batchSize = 100 } = {}) {
  const nodes = new FakeDataNodes();
  const streams = new Streams(parseEntriesOptions({ batchSize }));
  const events = { read: [] as string[], wrongType: [] as string[], errors: [] as unknown[] };
  const reads = new StreamReads(nodes, () => maxBuffered, {
    onRead: (work) => events.read.push(work.stream),
    onWrongType: (work) => events.wrongType.push(work.stream),
    onError: (error) => events.errors.push(error),
  });
  return { nodes, streams, events, reads };
}

/** What a processor does with entries: takes them from the buffer and says so. */
function take(reads: StreamReads, work: StreamWork, count = work.buffer.length): void {
  const taken = work.take(count);
  reads.taken(work, taken.length);
}

const ids = (work: StreamWork): string[] => work.buffer.map((entry) => entry.id);

/**
 * Each XREAD came `delays[i]` ms after the one before it (1 ms more at most: a read starts on the immediate after its
 * retry timer, and a fake immediate set from a timer comes 1 ms later).
 */
function expectGaps(xreads: readonly Xread[], delays: readonly number[]): void {
  const gaps = xreads.slice(1).map((xread, i) => xread.at - xreads[i]!.at);
  expect(gaps).toHaveLength(delays.length);
  for (const [i, delay] of delays.entries()) {
    expect(gaps[i]).toBeGreaterThanOrEqual(delay);
    expect(gaps[i]).toBeLessThanOrEqual(delay + 1);
  }
}


useFakeTimersPerTest();

describe('StreamReads: which streams', () => {
  it('reads only the woken streams, in one XREAD after each one\'s cursor, and hands their entries over', async () => {
    const { nodes, streams, events, reads } = setUp();
    const [a, b, c] = ['a', 'b', 'c'].map((name) => streams.open(name));
    for (const name of ['a', 'b', 'c']) nodes.add(name, 3);
    b!.cursor = '1-0';
    reads.wake(a!);
    reads.wake(b!);
    await settle();
    expect(nodes.xreads.map(({ keys, after }) => ({ keys, after }))).toEqual([{ keys: ['a', 'b'], after: ['0-0', '1-0'] }]);
    expect(ids(a!)).toEqual(['1-0', '2-0', '3-0']);
    expect(ids(b!)).toEqual(['2-0', '3-0']);
    expect(ids(c!)).toEqual([]);
    expect(a!.cursor).toBe('3-0');
    expect(events.read).toEqual(['a', 'b']);
    expect(reads.bufferedEntries).toBe(5);
  });

  it('reads a woken stream once, and again only when woken again', async () => {
    const { nodes, streams, events, reads } = setUp();
    const a = streams.open('a');
    nodes.add('a', 1);
    reads.wake(a);
    reads.wake(a);
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toHaveLength(1);
    nodes.add('a', 1, 2);
    reads.wake(a);
    await settle();
    expect(nodes.xreads.map((xread) => xread.after)).toEqual([['0-0'], ['1-0']]);
    expect(ids(a)).toEqual(['1-0', '2-0']);
    expect(events.read).toEqual(['a', 'a']);
  });

  it('a stream with nothing new is not handed over (Redis answers null)', async () => {
    const { nodes, streams, events, reads } = setUp();
    const a = streams.open('a');
    reads.wake(a);
    await settle();
    expect(nodes.xreads).toHaveLength(1);
    expect(events.read).toEqual([]);
    expect(a.cursor).toBe('0-0');
  });

  it('names at most 256 keys per XREAD', async () => {
    const { nodes, streams, reads } = setUp();
    const works = Array.from({ length: 600 }, (_, i) => streams.open(`s${i}`));
    for (const work of works) {
      nodes.add(work.stream, 1);
      reads.wake(work);
    }
    await settle();
    expect(nodes.xreads.map((xread) => xread.keys.length)).toEqual([256, 256, 88]);
    expect(new Set(nodes.keysRead).size).toBe(600);
    for (const work of works) expect(ids(work)).toEqual(['1-0']);
  });

  it('on a cluster, one XREAD names the keys of one group only, and is routed by one of them', async () => {
    const { nodes, streams, reads } = setUp();
    nodes.clustered = true;
    for (const name of ['{x}1', '{y}1', '{x}2', '{y}2', '{z}1']) {
      nodes.add(name, 1);
      reads.wake(streams.open(name));
    }
    await settle();
    const groups = nodes.xreads.map((xread) => xread.keys);
    expect(groups).toEqual([['{x}1', '{x}2'], ['{y}1', '{y}2'], ['{z}1']]);
    for (const xread of nodes.xreads) expect(xread.keys).toContain(xread.routedBy);
  });

  it('does not read a stream before it is open, nor one that is closed', async () => {
    const { nodes, streams, reads } = setUp();
    const loading = streams.open('loading');
    loading.open = false;
    const closed = streams.open('closed');
    closed.closed = true;
    nodes.add('loading', 1);
    nodes.add('closed', 1);
    reads.wake(loading);
    reads.wake(closed);
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toEqual([]);
    // Opened (its position loaded): the processing wakes it.
    loading.open = true;
    reads.wake(loading);
    await settle();
    expect(ids(loading)).toEqual(['1-0']);
  });

  it('does not read a stream closed after it was woken (its lease ended before the read went out)', async () => {
    const { nodes, streams, reads } = setUp();
    const a = streams.open('a');
    nodes.add('a', 1);
    reads.wake(a);
    a.closed = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toEqual([]);
  });

  it('drops a reply for a stream closed while it was read', async () => {
    const { nodes, streams, events, reads } = setUp();
    const a = streams.open('a');
    nodes.add('a', 2);
    nodes.hold = true;
    reads.wake(a);
    await settle();
    a.closed = true;
    nodes.held[0]!.resolve();
    await settle();
    expect(ids(a)).toEqual([]);
    expect(events.read).toEqual([]);
    expect(reads.bufferedEntries).toBe(0);
  });

  it('stop() ends the reading: woken streams are not read', async () => {
    const { nodes, streams, reads } = setUp();
    const a = streams.open('a');
    nodes.add('a', 1);
    reads.stop();
    reads.wake(a);
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toEqual([]);
  });
});

describe('StreamReads: how much', () => {
  it('reads up to batchSize entries of a stream at a time', async () => {
    const { nodes, streams, reads } = setUp({ batchSize: 10 });
    const a = streams.open('a');
    nodes.add('a', 25);
    reads.wake(a);
    await settle();
    expect(nodes.xreads.map((xread) => xread.count)).toEqual([10]);
    expect(ids(a)).toHaveLength(10);
  });

  it('a full reply keeps the stream woken: it is read again once its buffer has room', async () => {
    const { nodes, streams, reads } = setUp({ batchSize: 10 });
    const a = streams.open('a');
    nodes.add('a', 25);
    reads.wake(a);
    await vi.advanceTimersByTimeAsync(1000);
    // Its buffer is full (batchSize): no more reading until the processor takes some.
    expect(nodes.xreads).toHaveLength(1);
    take(reads, a);
    await settle();
    expect(nodes.xreads.map((xread) => xread.after[0])).toEqual(['0-0', '10-0']);
    take(reads, a);
    await settle();
    expect(nodes.xreads.map((xread) => xread.after[0])).toEqual(['0-0', '10-0', '20-0']);
    expect(ids(a)).toEqual(['21-0', '22-0', '23-0', '24-0', '25-0']);
    // That reply was not full: the stream is not read again until woken.
    take(reads, a);
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toHaveLength(3);
  });

  it('adapts COUNT so that no more than maxBuffered entries are held across streams', async () => {
    const { nodes, streams, reads } = setUp({ maxBuffered: 100, batchSize: 100 });
    const works = ['a', 'b', 'c', 'd'].map((name) => streams.open(name));
    for (const work of works) {
      nodes.add(work.stream, 1000);
      reads.wake(work);
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads.map((xread) => xread.count)).toEqual([25]);
    expect(reads.bufferedEntries).toBe(100);
    // Reading goes on as entries are processed, never above the bound.
    let processed = 0;
    for (let round = 0; round < 1000 && processed < 2000; round += 1) {
      for (const work of works) {
        processed += Math.min(7, work.buffer.length);
        take(reads, work, 7);
      }
      await settle();
      expect(reads.bufferedEntries).toBeLessThanOrEqual(100);
      expect(works.reduce((sum, work) => sum + work.buffer.length, 0)).toBe(reads.bufferedEntries);
    }
    expect(processed).toBeGreaterThanOrEqual(2000);
    // Every stream moved on: none is starved.
    for (const work of works) expect(compareIds(work.cursor, '100-0')).toBeGreaterThan(0);
  });

  it('with more woken streams than room, reads one entry of as many streams as there is room for', async () => {
    const { nodes, streams, reads } = setUp({ maxBuffered: 3 });
    const works = ['a', 'b', 'c', 'd', 'e'].map((name) => streams.open(name));
    for (const work of works) {
      nodes.add(work.stream, 5);
      reads.wake(work);
    }
    await settle();
    expect(nodes.xreads.map(({ count, keys }) => ({ count, keys }))).toEqual([{ count: 1, keys: ['a', 'b', 'c'] }]);
    expect(reads.bufferedEntries).toBe(3);
    take(reads, works[0]!);
    await settle();
    expect(reads.bufferedEntries).toBe(3);
    expect(nodes.xreads.at(-1)!.keys).toEqual(['d']);
  });

  it('forget() drops what a stream buffered and makes room for the others', async () => {
    const { nodes, streams, reads } = setUp({ maxBuffered: 10, batchSize: 10 });
    const a = streams.open('a');
    const b = streams.open('b');
    nodes.add('a', 10);
    nodes.add('b', 10);
    reads.wake(a);
    await settle();
    reads.wake(b);
    await settle();
    expect(ids(b)).toEqual([]);
    reads.forget(a);
    await settle();
    expect(ids(a)).toEqual([]);
    expect(ids(b)).toHaveLength(10);
    expect(reads.bufferedEntries).toBe(10);
  });
});

describe('StreamReads: the position set meanwhile', () => {
  it('drops a reply that arrives after the cursor was moved, and reads from the new place', async () => {
    const { nodes, streams, events, reads } = setUp();
    const a = streams.open('a');
    nodes.add('a', 10);
    nodes.hold = true;
    reads.wake(a);
    await settle();
    // setPosition(a, '7-0'), as the processing does it: a new cursor, the buffer dropped, read again.
    a.epoch += 1;
    a.cursor = '7-0';
    reads.forget(a);
    reads.wake(a);
    nodes.hold = false;
    nodes.held[0]!.resolve();
    await settle();
    expect(nodes.xreads.map((xread) => xread.after)).toEqual([['0-0'], ['7-0']]);
    expect(ids(a)).toEqual(['8-0', '9-0', '10-0']);
    expect(a.cursor).toBe('10-0');
    expect(events.read).toEqual(['a']);
    expect(reads.bufferedEntries).toBe(3);
  });
});

describe('StreamReads: errors', () => {
  it('WRONGTYPE on a read of several keys: the keys are read one by one, and only the bad one is reported', async () => {
    const { nodes, streams, events, reads } = setUp();
    const works = ['a', 'bad', 'c'].map((name) => streams.open(name));
    nodes.add('a', 2);
    nodes.add('c', 1);
    nodes.notStreams.add('bad');
    for (const work of works) reads.wake(work);
    await settle();
    expect(nodes.xreads.map((xread) => xread.keys)).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
    expect(events.wrongType).toEqual(['bad']);
    expect(events.errors).toEqual([]);
    expect(ids(works[0]!)).toEqual(['1-0', '2-0']);
    expect(ids(works[2]!)).toEqual(['1-0']);
    // The bad key is not read again by itself.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(nodes.xreads).toHaveLength(4);
  });

  it('WRONGTYPE on a read of one key reports it at once', async () => {
    const { nodes, streams, events, reads } = setUp();
    nodes.notStreams.add('bad');
    reads.wake(streams.open('bad'));
    await settle();
    expect(nodes.xreads).toHaveLength(1);
    expect(events.wrongType).toEqual(['bad']);
  });

  it('another error is reported and the streams read again after a backoff that grows, then resets', async () => {
    // The backoff's jitter at its ceiling: 50, 100, 200 ms...
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { nodes, streams, events, reads } = setUp();
    const a = streams.open('a');
    const b = streams.open('b');
    nodes.add('a', 1);
    nodes.add('b', 1);
    const lost = new Error('Socket closed unexpectedly');
    nodes.failures.push(lost, lost, lost);
    const start = Date.now();
    reads.wake(a);
    reads.wake(b);
    await vi.advanceTimersByTimeAsync(1000);
    expect(events.errors).toEqual([lost, lost, lost]);
    expect(nodes.xreads[0]!.at).toBe(start);
    expectGaps(nodes.xreads, [50, 100, 200]);
    expect(nodes.xreads.map((xread) => xread.keys)).toEqual([['a', 'b'], ['a', 'b'], ['a', 'b'], ['a', 'b']]);
    expect(ids(a)).toEqual(['1-0']);
    expect(ids(b)).toEqual(['1-0']);
    // A success resets the backoff: the next failure is retried after 50 ms again.
    nodes.add('a', 1, 2);
    nodes.failures.push(lost);
    const again = Date.now();
    reads.wake(a);
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads[4]!.at).toBe(again);
    expectGaps(nodes.xreads.slice(4), [50]);
    expect(ids(a)).toEqual(['1-0', '2-0']);
  });

  it('a stream woken while a retry waits is read with the retry, not before', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { nodes, streams, reads } = setUp();
    const a = streams.open('a');
    const b = streams.open('b');
    nodes.failures.push(new Error('Connection timeout'));
    reads.wake(a);
    await vi.advanceTimersByTimeAsync(10);
    reads.wake(b);
    await vi.advanceTimersByTimeAsync(10);
    expect(nodes.xreads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(40);
    expect(nodes.xreads.map((xread) => xread.keys)).toEqual([['a'], ['a', 'b']]);
  });

  it('stop() during a read: nothing more is read after its reply, even a full one', async () => {
    // Room for 35 entries over 3 streams: 11 each, full replies, and room left for more.
    const { nodes, streams, reads } = setUp({ maxBuffered: 35 });
    const works = ['a', 'b', 'c'].map((name) => streams.open(name));
    nodes.hold = true;
    for (const work of works) {
      nodes.add(work.stream, 100);
      reads.wake(work);
    }
    await settle();
    expect(nodes.xreads.map(({ count, keys }) => ({ count, keys }))).toEqual([{ count: 11, keys: ['a', 'b', 'c'] }]);
    reads.stop();
    nodes.hold = false;
    nodes.held[0]!.resolve();
    await vi.advanceTimersByTimeAsync(1000);
    expect(nodes.xreads).toHaveLength(1);
  });

  it('stop() cancels a retry that waits', async () => {
    const { nodes, streams, reads } = setUp();
    nodes.failures.push(new Error('Connection timeout'));
    reads.wake(streams.open('a'));
    await settle();
    reads.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(nodes.xreads).toHaveLength(1);
  });
});

describe('StreamReads: fields', () => {
  async function fieldsOf(flat: string[]): Promise<Record<string, string>> {
    const { nodes, streams, reads } = setUp();
    const a = streams.open('a');
    nodes.streams.set('a', [['1-0', flat]]);
    reads.wake(a);
    await settle();
    return a.buffer[0]!.fields;
  }

  it('makes the field list an object', async () => {
    expect(await fieldsOf(['type', 'order', 'qty', '3', 'empty', ''])).toEqual({ type: 'order', qty: '3', empty: '' });
    expect(await fieldsOf([])).toEqual({});
  });

  it('a repeated field name keeps its last value', async () => {
    expect(await fieldsOf(['a', '1', 'b', '2', 'a', '3'])).toEqual({ a: '3', b: '2' });
  });

  it('a field named __proto__ is data: an own, enumerable field, and the object keeps its prototype', async () => {
    const fields = await fieldsOf(['__proto__', '{"polluted":true}', 'constructor', 'x', 'a', '1']);
    expect(Object.getOwnPropertyDescriptor(fields, '__proto__')).toMatchObject({ value: '{"polluted":true}', enumerable: true });
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
    expect(Object.keys(fields)).toEqual(['__proto__', 'constructor', 'a']);
    expect(JSON.parse(JSON.stringify(fields))).toEqual(JSON.parse('{"__proto__":"{\\"polluted\\":true}","constructor":"x","a":"1"}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a repeated __proto__ keeps its last value too', async () => {
    const fields = await fieldsOf(['__proto__', 'first', '__proto__', 'second']);
    expect(Object.getOwnPropertyDescriptor(fields, '__proto__')?.value).toBe('second');
    expect(Object.getPrototypeOf(fields)).toBe(Object.prototype);
  });
});
