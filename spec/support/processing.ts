import type { StreamEntry } from '../../lib/index.js';
import type { NodeRedis } from './fleet.js';

/** Appends `count` entries `{ n: <i> }` (from `from`) to `stream`; returns their ids. */
export async function append(redis: NodeRedis, stream: string, count: number, from = 0): Promise<string[]> {
  const ids: string[] = [];
  for (let i = from; i < from + count; i += 1) ids.push(await redis.xAdd(stream, '*', { n: String(i) }));
  return ids;
}

/** The entries a handler saw, in order: `eachEntry: seen.record`. */
export class Seen {
  readonly entries: StreamEntry[] = [];
  readonly record = (entry: StreamEntry): void => {
    this.entries.push(entry);
  };

  /** The `n` field of each entry of `stream`, in the order processed. */
  numbers(stream: string): number[] {
    return this.of(stream).map((entry) => Number(entry.fields.n));
  }

  of(stream: string): StreamEntry[] {
    return this.entries.filter((entry) => entry.stream === stream);
  }

  get count(): number {
    return this.entries.length;
  }
}

/** 0, 1, ..., count - 1. */
export function upTo(count: number, from = 0): number[] {
  return Array.from({ length: count - from }, (_, i) => from + i);
}
