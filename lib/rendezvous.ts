/**
 * Rendezvous (highest random weight) hashing: every consumer computes the same preferred claimer for an orphaned
 * stream from the same list of live consumers, so survivors split a dead consumer's streams evenly instead of all
 * racing for each one.
 */
export function preferredConsumer(stream: string, consumers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const consumer of consumers) {
    const weight = fnv1a(`${consumer}\u0000${stream}`);
    if (weight > bestWeight || (weight === bestWeight && best !== undefined && consumer < best)) {
      best = consumer;
      bestWeight = weight;
    }
  }
  return best;
}

/** 32-bit FNV-1a with a final avalanche, enough to spread names evenly. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
