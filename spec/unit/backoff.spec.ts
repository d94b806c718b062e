import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../lib/backoff.js';

const take = (backoff: Backoff, count: number): number[] => Array.from({ length: count }, () => backoff.next());

describe('Backoff', () => {
  afterEach(() => vi.restoreAllMocks());

  it('doubles from the base up to the cap with the full ceiling drawn', () => {
    const backoff = new Backoff(50, 1000, () => 1);
    expect(take(backoff, 8)).toEqual([50, 100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('scales every ceiling by the random draw', () => {
    const backoff = new Backoff(100, 10_000, () => 0.5);
    expect(take(backoff, 5)).toEqual([50, 100, 200, 400, 800]);
  });

  it('stays at the cap after very many attempts', () => {
    const backoff = new Backoff(50, 5000, () => 1);
    const delays = take(backoff, 200);
    expect(delays.at(-1)).toBe(5000);
    expect(delays.every((delay) => Number.isFinite(delay) && delay <= 5000)).toBe(true);
  });

  it('reset() starts over from the base', () => {
    const backoff = new Backoff(50, 5000, () => 1);
    take(backoff, 6);
    backoff.reset();
    expect(take(backoff, 3)).toEqual([50, 100, 200]);
  });

  it('never returns less than 1 ms, even when the draw is 0', () => {
    const backoff = new Backoff(50, 5000, () => 0);
    expect(take(backoff, 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('defaults to Math.random, with delays between 1 and the cap', () => {
    const random = vi.spyOn(Math, 'random');
    const backoff = new Backoff(50, 800);
    const delays = take(backoff, 1000);
    expect(random).toHaveBeenCalledTimes(1000);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(1);
      expect(delay).toBeLessThanOrEqual(800);
      expect(Number.isInteger(delay)).toBe(true);
    }
    // Full jitter: the delays are spread, not all the same.
    expect(new Set(delays).size).toBeGreaterThan(10);
  });

  it('defaults to a 50 ms base and a 5 s cap', () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const backoff = new Backoff();
    const delays = take(backoff, 10);
    expect(delays[0]).toBe(50);
    expect(delays.at(-1)).toBe(5000);
  });
});
