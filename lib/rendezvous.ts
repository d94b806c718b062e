/**
 * Rendezvous (highest random weight) hashing: every consumer computes the same preferred claimer for an orphaned
 * stream from the same list of live consumers, so survivors split a dead consumer's streams evenly instead of all
 * racing for each one.
 */
export function preferredConsumer(stream: string, consumers: readonly string[]): string | undefined {
  return rendezvous(consumers)(stream);
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The preferred consumer of any stream among `consumers`. The weight of a pair hashes "consumer \0 stream"; the
 * hash state after each consumer's prefix is computed once, so choosing among thousands of orphaned streams
 * hashes only the streams' names.
 */
export function rendezvous(consumers: readonly string[]): (stream: string) => string | undefined {
  const prefixes = consumers.map((consumer) => fnv1aFrom(FNV_OFFSET, `${consumer}\u0000`));
  return (stream) => {
    let best: string | undefined;
    let bestWeight = -1;
    for (let i = 0; i < consumers.length; i++) {
      const consumer = consumers[i]!;
      const weight = avalanche(fnv1aFrom(prefixes[i]!, stream));
      if (weight > bestWeight || (weight === bestWeight && best !== undefined && consumer < best)) {
        best = consumer;
        bestWeight = weight;
      }
    }
    return best;
  };
}

/** 32-bit FNV-1a continued from `hash` over `text`. */
function fnv1aFrom(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

/** A final mix, so that names differing in their last characters still spread evenly. */
function avalanche(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
