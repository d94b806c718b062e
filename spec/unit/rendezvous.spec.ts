import { describe, expect, it } from 'vitest';
import { preferredConsumer } from '../../lib/rendezvous.js';

const consumers = ['host-a-101-x1Yz', 'host-b-202-Qk9p', 'host-c-303-Ab3D', 'host-d-404-mM0o'];
const streams = Array.from({ length: 10_000 }, (_, i) => `orders:stream:${i}`);

/** Shuffles a copy with a fixed-seed LCG, so the test is repeatable. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('preferredConsumer', () => {
  it('is undefined with no consumers', () => {
    expect(preferredConsumer('orders:1', [])).toBeUndefined();
  });

  it('is the only consumer when there is one', () => {
    expect(preferredConsumer('orders:1', ['only'])).toBe('only');
  });

  it('is one of the consumers given', () => {
    for (const stream of streams.slice(0, 200)) expect(consumers).toContain(preferredConsumer(stream, consumers));
  });

  it('is deterministic', () => {
    const first = streams.map((stream) => preferredConsumer(stream, consumers));
    const second = streams.map((stream) => preferredConsumer(stream, [...consumers]));
    expect(second).toEqual(first);
  });

  it('does not depend on the order of the consumer list', () => {
    const expected = streams.slice(0, 2000).map((stream) => preferredConsumer(stream, consumers));
    for (const seed of [1, 2, 3, 4, 5]) {
      const order = shuffled(consumers, seed);
      expect(streams.slice(0, 2000).map((stream) => preferredConsumer(stream, order))).toEqual(expected);
    }
    const reversed = [...consumers].reverse();
    expect(streams.slice(0, 2000).map((stream) => preferredConsumer(stream, reversed))).toEqual(expected);
  });

  it('breaks a tie between equal weights the same way whatever the order', () => {
    // These two names hash to the same 32-bit weight for this stream (found by search against the current hash).
    const tied = ['consumer-79638', 'consumer-615032'];
    const chosen = preferredConsumer('orders:tie', tied);
    expect(tied).toContain(chosen);
    expect(preferredConsumer('orders:tie', [...tied].reverse())).toBe(chosen);
  });

  it('depends on the stream: not every stream goes to the same consumer', () => {
    const chosen = new Set(streams.slice(0, 100).map((stream) => preferredConsumer(stream, consumers)));
    expect(chosen.size).toBe(consumers.length);
  });

  it.each([
    ['host names', consumers],
    ['near-identical names', ['consumer-1', 'consumer-2', 'consumer-3', 'consumer-4']],
    ['one-letter names', ['a', 'b', 'c', 'd']],
  ])('spreads 10,000 streams over 4 consumers within 10%% of even (%s)', (_label, fleet) => {
    const counts = new Map<string, number>();
    for (const stream of streams) {
      const chosen = preferredConsumer(stream, fleet)!;
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([...fleet].sort());
    for (const count of counts.values()) {
      expect(count).toBeGreaterThanOrEqual(2250);
      expect(count).toBeLessThanOrEqual(2750);
    }
  });

  it('removing a consumer moves only the streams it had (highest random weight property)', () => {
    const before = new Map(streams.map((stream) => [stream, preferredConsumer(stream, consumers)!]));
    for (const removed of consumers) {
      const survivors = consumers.filter((consumer) => consumer !== removed);
      let moved = 0;
      for (const [stream, owner] of before) {
        const after = preferredConsumer(stream, survivors);
        if (owner === removed) {
          moved++;
          expect(survivors).toContain(after);
        } else {
          expect(after).toBe(owner);
        }
      }
      expect(moved).toBeGreaterThan(0);
    }
  });

  it("splits a removed consumer's streams over the survivors", () => {
    const [removed, ...survivors] = consumers;
    const orphaned = streams.filter((stream) => preferredConsumer(stream, consumers) === removed);
    const counts = new Map<string, number>();
    for (const stream of orphaned) {
      const chosen = preferredConsumer(stream, survivors)!;
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    expect(counts.size).toBe(survivors.length);
    const even = orphaned.length / survivors.length;
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(even * 0.8);
      expect(count).toBeLessThan(even * 1.2);
    }
  });

  it('adding a consumer takes streams only for itself', () => {
    const newcomer = 'host-e-505-Zz7q';
    for (const stream of streams.slice(0, 2000)) {
      const after = preferredConsumer(stream, [...consumers, newcomer]);
      if (after !== newcomer) expect(after).toBe(preferredConsumer(stream, consumers));
    }
  });
});
