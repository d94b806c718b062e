import { describe, expect, it } from 'vitest';
import { ClientMetrics, ROUND_TRIP_BUCKETS_MS } from '../../lib/metrics.js';

describe('ClientMetrics', () => {
  it('puts a round trip in the first bucket whose bound it does not exceed, cumulatively, beyond the last in +Inf', () => {
    const metrics = new ClientMetrics();
    for (const ms of [0.4, 1, 1.5, 2500, 9000]) metrics.heartbeat(ms, 100);
    const { roundTripMs } = metrics.snapshot(0).heartbeat;
    const at = (le: number) => roundTripMs.buckets.find((bucket) => bucket.le === le)!.count;
    expect(roundTripMs.buckets.map((bucket) => bucket.le)).toEqual([...ROUND_TRIP_BUCKETS_MS, Number.POSITIVE_INFINITY]);
    expect([at(1), at(2), at(1000), at(2500), at(Number.POSITIVE_INFINITY)]).toEqual([2, 3, 3, 4, 5]);
    expect(roundTripMs).toMatchObject({ count: 5, sum: 0.4 + 1 + 1.5 + 2500 + 9000 });
  });

  it('hands out copies: a snapshot does not change with later counts', () => {
    const metrics = new ClientMetrics();
    metrics.acquired('takeover');
    const before = metrics.snapshot(1);
    metrics.acquired('takeover');
    metrics.released('close');
    metrics.claimed(2, 1);
    metrics.deadLettered('entry');
    metrics.lost();
    expect(before).toMatchObject({ owned: 1, acquired: { takeover: 1 }, released: { close: 0 }, claims: { won: 0, lost: 0 }, lost: 0 });
    expect(metrics.snapshot(3)).toMatchObject({
      owned: 3,
      acquired: { new: 0, takeover: 2, handoff: 0, restart: 0 },
      released: { rebalance: 0, drain: 0, close: 1 },
      claims: { won: 2, lost: 1 },
      deadLetters: { lbs: 0, entry: 1 },
      lost: 1,
    });
  });

  it('tells each observer of every heartbeat and handler call as it is counted, until it is removed', () => {
    const errors: unknown[] = [];
    const metrics = new ClientMetrics((error) => errors.push(error));
    const heard: string[] = [];
    const removeFirst = metrics.observe({ heartbeat: (ms) => heard.push(`first heartbeat ${ms}`) });
    metrics.observe({
      heartbeat: (ms) => heard.push(`second heartbeat ${ms}`),
      handled: (entries, ms, outcome) => heard.push(`second ${outcome} ${entries} in ${ms}`),
    });
    metrics.heartbeat(3, 100);
    metrics.handled(5, 40, 'processed');
    metrics.handled(1, 7, 'failed');
    removeFirst();
    metrics.heartbeat(4, 100);
    expect(heard).toEqual(['first heartbeat 3', 'second heartbeat 3', 'second processed 5 in 40', 'second failed 1 in 7', 'second heartbeat 4']);
    expect(errors).toEqual([]);
  });

  it('counts on when an observer throws, tells the others, and reports the error', () => {
    const errors: unknown[] = [];
    const metrics = new ClientMetrics((error) => errors.push(error));
    const failure = new Error('exporter broke');
    const heard: number[] = [];
    metrics.observe({
      heartbeat: () => {
        throw failure;
      },
    });
    metrics.observe({ heartbeat: (ms) => heard.push(ms) });
    metrics.heartbeat(3, 100);
    expect(heard).toEqual([3]);
    expect(errors).toEqual([failure]);
    expect(metrics.snapshot(0).heartbeat).toMatchObject({ roundTripMs: { count: 1, sum: 3 }, validityMarginMs: 100 });
  });

  it('finishes the round under way when an observer is removed during it, and leaves it out after', () => {
    const metrics = new ClientMetrics();
    const heard: string[] = [];
    let removeSecond = () => undefined as void;
    metrics.observe({
      heartbeat: () => {
        heard.push('first');
        removeSecond();
      },
    });
    removeSecond = metrics.observe({ heartbeat: () => heard.push('second') });
    metrics.heartbeat(1, 100);
    metrics.heartbeat(1, 100);
    // The first call's round had started with both: the second is told once, then never again.
    expect(heard).toEqual(['first', 'second', 'first']);
  });
});
