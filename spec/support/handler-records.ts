/**
 * What the consumers of a processing chaos run write down about their handler calls, in a Redis stream of the
 * test: one record when the handler starts, one when its work is done, just before it resolves. The handler writes
 * both itself and awaits them, so the record of a start is in Redis before the entry can count as processed, and it
 * survives the SIGKILL of the process that wrote it. The child side (recordingHandler) and the parent side
 * (readHandlerRecords) share the format here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EachEntry, RunOptions, StreamEntry } from '../../lib/index.js';
import type { NodeRedis } from './fleet.js';

export interface HandlerRecord {
  /** 'start': the handler was called; 'end': its work is done and it resolves. */
  event: 'start' | 'end';
  stream: string;
  /** The entry's stream id. */
  id: string;
  consumer: string;
  /** The process that ran the handler (its pid): one consumer id may live in several processes in turn. */
  incarnation: string;
  /** The lease token the entry was handed out under. */
  token: number;
  attempt: number;
  /** Date.now() in the handler's process: when it started ('start'), when its work was done ('end'). Every process
   * of a run is on one machine, so the times of different consumers compare. */
  at: number;
}

/** What a child consumer that processes needs: where to record, and run()'s options other than the handler. */
export interface RecordingSettings {
  /** The stream of the test the records go to. */
  recordsKey: string;
  run: Omit<RunOptions, 'eachEntry' | 'eachBatch' | 'isEnd'>;
  /** The handler's own work after its start record: a random time up to this long (ms), so that handlers are in
   * flight when a fault strikes. */
  maxWorkMs: number;
}

/**
 * run()'s eachEntry for a child consumer: records its start, works a little, records its end, then resolves.
 * `recorder` is a connection of its own, apart from the library's.
 */
export function recordingHandler(recorder: NodeRedis, consumer: string, { recordsKey, maxWorkMs }: RecordingSettings): EachEntry {
  const incarnation = String(process.pid);
  const record = (event: HandlerRecord['event'], entry: StreamEntry, at: number) =>
    recorder.xAdd(recordsKey, '*', {
      event,
      stream: entry.stream,
      id: entry.id,
      consumer,
      incarnation,
      token: String(entry.token),
      attempt: String(entry.attempt),
      at: String(at),
    });
  return async (entry) => {
    // Read first: the handler's start is the moment the library handed the entry out.
    const startedAt = Date.now();
    await record('start', entry, startedAt);
    const workMs = Math.floor(Math.random() * (maxWorkMs + 1));
    if (workMs > 0) await sleep(workMs);
    await record('end', entry, Date.now());
  };
}

/** Every record in `key`, in the order Redis received them. */
export async function readHandlerRecords(redis: NodeRedis, key: string): Promise<HandlerRecord[]> {
  const records: HandlerRecord[] = [];
  let from = '-';
  for (;;) {
    const page = await redis.xRange(key, from, '+', { COUNT: 10_000 });
    for (const { message } of page) {
      records.push({
        event: message.event === 'end' ? 'end' : 'start',
        stream: message.stream!,
        id: message.id!,
        consumer: message.consumer!,
        incarnation: message.incarnation!,
        token: Number(message.token),
        attempt: Number(message.attempt),
        at: Number(message.at),
      });
    }
    if (page.length < 10_000) return records;
    from = `(${page[page.length - 1]!.id}`;
  }
}
