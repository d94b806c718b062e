/** Stream ids (`<ms>-<seq>`, each part a 64-bit unsigned number): compared and stepped exactly, as Redis does. */

const ID = /^(\d+)-(\d+)$/;
const MAX_PART = 2n ** 64n - 1n;

function parts(id: string): [bigint, bigint] {
  const match = ID.exec(id);
  if (!match) throw new TypeError(`Expected a stream id such as "1700000000000-0", got ${JSON.stringify(id)}`);
  return [BigInt(match[1]!), BigInt(match[2]!)];
}

/** Whether `id` is a complete stream id whose parts fit in 64 bits. */
export function isStreamId(id: unknown): id is string {
  if (typeof id !== 'string' || !ID.test(id)) return false;
  return parts(id).every((part) => part <= MAX_PART);
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = parts(a);
  const [bMs, bSeq] = parts(b);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}


/** The smallest id after `id` (XTRIM MINID with it removes `id` and everything before); the largest id itself. */
export function nextId(id: string): string {
  const [ms, seq] = parts(id);
  if (seq < MAX_PART) return `${ms}-${seq + 1n}`;
  return ms < MAX_PART ? `${ms + 1n}-0` : id;
}

/** The time part of an id, in ms since the epoch (as the producer's Redis clock saw it for `*` ids). */
export function idTime(id: string): number {
  return Number(parts(id)[0]);
}
