import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Backoff } from '../backoff.js';
import { errorCode } from '../redis.js';
import type { DataNodes } from './data-nodes.js';
import type { ReadEntry } from './entry.js';
import type { StreamWork } from './stream-work.js';

/** Keys per XREAD: Redis spends about 1.5 µs per key per call, so a call stays well under a millisecond. */
const KEYS_PER_READ = 256;

export interface ReadEvents {
  /** Entries were added to `work.buffer`. */
  onRead(work: StreamWork): void;
  /** The stream's key holds another type than a stream: it cannot be read. */
  onWrongType(work: StreamWork): void;
  onError(error: unknown): void;
}

/**
 * Reads the owned streams that may have new entries ("woken": a write was announced, a sweep, a start), with
 * non-blocking XREADs of many streams at once, pipelined, so that a few connections serve any number of streams.
 * Holds at most about `maxBuffered` entries read and not yet processed, across all streams: reading pauses at the
 * bound and goes on as entries are processed.
 */
export class StreamReads {
  private readonly woken = new Set<StreamWork>();
  private buffered = 0;
  private pumping = false;
  private stopped = false;
  private readonly backoff = new Backoff(50, 2000);
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly nodes: DataNodes,
    private readonly maxBuffered: () => number,
    private readonly events: ReadEvents,
  ) {}

  /** Entries read and not yet taken from the buffers. */
  get bufferedEntries(): number {
    return this.buffered;
  }

  /** The stream may have new entries: read it soon. */
  wake(work: StreamWork): void {
    if (work.closed || this.stopped) return;
    this.woken.add(work);
    this.schedule();
  }

  /** `count` entries were taken from the stream's buffer (handed out, or dropped). */
  taken(work: StreamWork, count: number): void {
    this.buffered -= count;
    if (work.readDeferred && work.buffer.length < work.settings.batchSize) {
      work.readDeferred = false;
      this.woken.add(work);
    }
    if (this.woken.size > 0) this.schedule();
  }

  /** The stream is not read any more; what its buffer held is dropped. */
  forget(work: StreamWork): void {
    this.woken.delete(work);
    work.readDeferred = false;
    this.buffered -= work.take().length;
    // The room made may be what other streams wait for.
    if (this.woken.size > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.woken.clear();
  }

  private schedule(): void {
    if (this.pumping || this.retry || this.stopped) return;
    this.pumping = true;
    setImmediate(() => void this.pump());
  }

  private async pump(): Promise<void> {
    try {
      // A reply that came after stop() may have woken its stream again: stop() ends the reading all the same.
      while (!this.stopped) {
        const room = this.maxBuffered() - this.buffered;
        const batch = room > 0 ? this.take(room) : [];
        if (batch.length === 0) break;
        // At least one entry per stream, and no more than the room left in all.
        const count = Math.max(1, Math.min(...batch.map((work) => work.settings.batchSize), Math.floor(room / batch.length)));
        await this.read(batch, count);
        if (this.retry) break;
        await yieldToEventLoop();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Up to `room` woken streams whose buffer is not full. A stream with a full buffer is read once entries are
   * taken from it (so that it is not looked at again and again meanwhile). */
  private take(room: number): StreamWork[] {
    const batch: StreamWork[] = [];
    for (const work of this.woken) {
      if (batch.length >= room) break;
      // One not open yet is woken when it opens.
      this.woken.delete(work);
      if (!work.open || work.closed) continue;
      if (work.buffer.length >= work.settings.batchSize) work.readDeferred = true;
      else batch.push(work);
    }
    return batch;
  }

  private async read(batch: StreamWork[], count: number): Promise<void> {
    const byStream = new Map(batch.map((work) => [work.stream, work]));
    const calls: Array<Promise<void>> = [];
    for (const group of this.nodes.group([...byStream.keys()])) {
      for (let i = 0; i < group.length; i += KEYS_PER_READ) {
        calls.push(this.readKeys(group.slice(i, i + KEYS_PER_READ).map((stream) => byStream.get(stream)!), count));
      }
    }
    await Promise.all(calls);
  }

  private async readKeys(works: StreamWork[], count: number): Promise<void> {
    const keys = works.map((work) => work.stream);
    const cursors = works.map((work) => work.cursor);
    const args = ['XREAD', 'COUNT', String(count), 'STREAMS', ...keys, ...cursors];
    let reply: unknown;
    try {
      reply = await this.nodes.send(keys[0]!, args);
    } catch (error) {
      await this.failed(works, count, error);
      return;
    }
    this.backoff.reset();
    const got = new Map<string, ReadEntry[]>();
    for (const [stream, entries] of (reply ?? []) as Array<[string, Array<[string, string[]]>]>) got.set(stream, entries.map(toEntry));
    for (const [i, work] of works.entries()) {
      const entries = got.get(work.stream);
      if (!entries || entries.length === 0 || work.closed) continue;
      // The position may have been set again meanwhile (setPosition): then this reply is from the old place.
      if (work.cursor !== cursors[i]) continue;
      work.add(entries);
      this.buffered += entries.length;
      work.cursor = entries[entries.length - 1]!.id;
      // A full reply: more may be waiting.
      if (entries.length >= count) this.woken.add(work);
      this.events.onRead(work);
    }
  }

  /** A read failed: a key of another type is found out by reading the keys one by one; anything else is retried. */
  private async failed(works: StreamWork[], count: number, error: unknown): Promise<void> {
    if (this.stopped) return;
    if (errorCode(error) === 'WRONGTYPE') {
      if (works.length === 1) this.events.onWrongType(works[0]!);
      else await Promise.all(works.map((work) => this.readKeys([work], count)));
      return;
    }
    this.events.onError(error);
    for (const work of works) this.woken.add(work);
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.schedule();
    }, this.backoff.next());
    this.retry.unref();
  }
}

/** An entry as XREAD returns it, its field list made an object (a repeated name: the last value wins). */
function toEntry([id, flat]: [string, string[]]): ReadEntry {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    // A field named __proto__ is data, not the object's prototype.
    if (name === '__proto__') Object.defineProperty(fields, name, { value: flat[i + 1], enumerable: true, writable: true, configurable: true });
    else fields[name] = flat[i + 1]!;
  }
  return { id, fields };
}
