import { describe, expect, it } from 'vitest';
import type { ReleaseReason } from '../../lib/events.js';
import type { HandOver, HandOverResult } from '../../lib/hand-over.js';
import { LeaseRegistry, type LeaseHost, type OwnedLease } from '../../lib/leases.js';
import type { RedisStreamClientOptions } from '../../lib/options.js';
import { Rebalancer } from '../../lib/rebalancer.js';
import { FakeScriptRunner, deferred, unitContext, type Deferred } from '../support/unit-fakes.js';

/** Leases s0..s(n-1); `lags` gives each its lag, `handedAt` the membership it was handed over at. */
function leases(count: number, { lags = [] as number[], handedAt = [] as Array<number | undefined> } = {}): OwnedLease[] {
  const host: LeaseHost = { entries: () => { throw new Error('no'); }, lag: (lease) => lags[Number(lease.stream.slice(1))] ?? 0, added: () => undefined, gone: () => undefined };
  const registry = new LeaseRegistry('me', host);
  return Array.from({ length: count }, (_, i) =>
    registry.add({ stream: `s${i}`, lbsId: `${i + 1}-0`, info: {}, token: i + 1, origin: handedAt[i] === undefined ? 'new' : 'handoff', handedAt: handedAt[i] })!,
  );
}

function setUp(owned: OwnedLease[], options: Partial<RedisStreamClientOptions> = {}) {
  const rounds: Array<{ streams: string[]; reason: ReleaseReason; done: Deferred<HandOverResult> }> = [];
  const handOver = {
    give: (given: readonly OwnedLease[], reason: ReleaseReason) => {
      const done = deferred<HandOverResult>();
      rounds.push({ streams: given.map((lease) => lease.stream), reason, done });
      return done.promise;
    },
  } as unknown as HandOver;
  const state = { takingOver: false, draining: false };
  const rebalancer = new Rebalancer(unitContext(new FakeScriptRunner(), options), {
    handOver,
    owned: () => owned,
    takingOver: () => state.takingOver,
    draining: () => state.draining,
    onError: (error) => {
      throw error;
    },
  });
  return { rebalancer, rounds, state };
}

describe('Rebalancer', () => {
  it('gives what the heartbeat says, least behind first, none handed to it under the current membership', async () => {
    const owned = leases(5, { lags: [500, 0, 20, 0, 0], handedAt: [undefined, 7, undefined, undefined, 6] });
    const { rebalancer, rounds } = setUp(owned);
    rebalancer.heartbeat(7, 3);
    expect(rounds).toMatchObject([{ streams: ['s3', 's4', 's2'], reason: 'rebalance' }]);
  });

  it('runs one round at a time: heartbeats during a round start none', async () => {
    const { rebalancer, rounds } = setUp(leases(4));
    rebalancer.heartbeat(1, 1);
    rebalancer.heartbeat(1, 1);
    expect(rounds).toHaveLength(1);
    rounds[0]!.done.resolve({ handedOver: 1, kept: [] });
    await rebalancer.settled();
    rebalancer.heartbeat(1, 1);
    expect(rounds).toHaveLength(2);
  });

  it('gives nothing with nothing to give, while a takeover is under way, or without rebalancing', () => {
    const { rebalancer, rounds, state } = setUp(leases(4));
    rebalancer.heartbeat(1, 0);
    state.takingOver = true;
    rebalancer.heartbeat(1, 2);
    expect(rounds).toEqual([]);
    const off = setUp(leases(4), { rebalance: false });
    off.rebalancer.heartbeat(1, 2);
    expect(off.rounds).toEqual([]);
  });

  it('asks the heartbeat for the excess again only when the membership changed, after an excess, while draining, and every 10 heartbeats', () => {
    const { rebalancer, rounds, state } = setUp(leases(4));
    expect(rebalancer.sharesSeenAt()).toBeUndefined(); // never computed
    rebalancer.heartbeat(5, 0);
    expect(rebalancer.sharesSeenAt()).toBe(5);
    for (let i = 0; i < 9; i++) rebalancer.heartbeat(5, undefined);
    expect(rebalancer.sharesSeenAt()).toBe(5);
    rebalancer.heartbeat(5, undefined);
    expect(rebalancer.sharesSeenAt()).toBeUndefined(); // ten heartbeats without: loads may have drifted
    rebalancer.heartbeat(6, 1);
    expect(rounds).toHaveLength(1);
    expect(rebalancer.sharesSeenAt()).toBeUndefined(); // one round may not have been enough
    rebalancer.heartbeat(6, 0);
    state.draining = true;
    expect(rebalancer.sharesSeenAt()).toBeUndefined();
  });

  it('draining, gives what it owns (even streams just handed to it), with or without rebalancing', () => {
    const { rebalancer, rounds, state } = setUp(leases(3, { handedAt: [4, 4, 4] }), { rebalance: false });
    state.draining = true;
    rebalancer.heartbeat(4, 2);
    expect(rounds).toMatchObject([{ streams: ['s0', 's1'], reason: 'drain' }]);
  });
});
