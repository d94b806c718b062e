import calculateSlot from 'cluster-key-slot';

/**
 * A hash tag that puts a key in the same Redis Cluster slot as `key`, or undefined for the rare names no such tag
 * can be derived for. By Redis Cluster's rule a key with a `{` followed, further on, by a `}` with something
 * between them hashes only that something (the first such pair counts); any other key hashes whole. So a key with
 * a valid tag lends it; a key without one lends itself whole, as `{<key>}`, when it holds no `}` (the tag would
 * end early). What neither covers (a name whose first `{` is followed at once by `}`, or a name with a `}` and no
 * valid tag) returns undefined. The answer is checked against the slot Redis computes, not only reasoned out.
 */
export function sameSlotTag(key: string): string | undefined {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  const inner = close > open + 1 ? key.slice(open + 1, close) : undefined;
  const tag = inner !== undefined ? `{${inner}}` : key.includes('}') ? undefined : `{${key}}`;
  return tag !== undefined && calculateSlot(tag) === calculateSlot(key) ? tag : undefined;
}
