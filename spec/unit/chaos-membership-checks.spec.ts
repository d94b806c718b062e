/**
 * The checks of the randomised chaos run's membership changes (spec/support/chaos-moves.ts, chaos-drain.ts,
 * chaos-restart.ts) on reports written by hand: what the library promises passes, and each broken promise is found,
 * so that the chaos run cannot pass because a check looks at nothing.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseOrigin, ReleaseReason } from '../../lib/index.js';
import { checkDrains } from '../support/chaos-drain.js';
import type { Member } from '../support/chaos-fleet.js';
import type { ChangeKind, MembershipChange } from '../support/chaos-membership.js';
import { checkMoves, movesOf } from '../support/chaos-moves.js';
import { checkRestarts, type Restart } from '../support/chaos-restart.js';
import { ConsumerChild, type ConsumerCommand, type ConsumerReport } from '../support/consumer-child.js';
import type { Forked } from '../support/forked.js';

const GRACE_MS = 2000;
const RESTART_GRACE_MS = 5000;

/** A member whose child reported `reports` (no process behind it). */
function member(id: string, reports: ConsumerReport[] = []): Member {
  const consumer = new ConsumerChild({ onReport: () => () => true } as unknown as Forked<ConsumerReport, ConsumerCommand>);
  consumer.id = id;
  consumer.reports.push(...reports);
  return { consumer, id, state: 'live' };
}

const added = (stream: string, token: number, at: number, origin: LeaseOrigin = 'new'): ConsumerReport => ({
  event: 'streamAdded', stream, lbsId: `${token}-0`, token, recovered: origin !== 'new', origin, at,
});
const released = (stream: string, token: number, at: number, reason: ReleaseReason = 'rebalance'): ConsumerReport => ({
  event: 'streamReleased', stream, token, reason, aborted: true, at,
});
const change = (kind: ChangeKind, who: Member, at: number, until = at): MembershipChange => ({ kind, member: who, at, until });

describe('checkMoves', () => {
  const a = member('a');
  const b = member('b');

  /** `s` handed a -> b -> a -> ... at each of `times`, each hand-off granted 10 ms after its release. */
  function pingPong(times: number[]): Member[] {
    const reports: [ConsumerReport[], ConsumerReport[]] = [[added('s', 1, 0)], []];
    times.forEach((at, i) => {
      reports[i % 2]!.push(released('s', i + 1, at));
      reports[(i + 1) % 2]!.push(added('s', i + 2, at + 10, 'handoff'));
    });
    return [member('a', reports[0]), member('b', reports[1])];
  }

  it('passes a stream moved once after each change, counting a move up to graceMs after a change for the period before', () => {
    const changes = [change('join', b, 1000, 1500), change('kill', a, 10_000)];
    // 3000: after the join; 11_900: within graceMs of the kill (it may not have acted yet); 12_500: after it.
    const members = pingPong([3000, 11_900]);
    expect(checkMoves(movesOf(members), changes, GRACE_MS)).toEqual({ violations: [], moves: 2, streams: 1, mostOfOne: 2 });
    expect(checkMoves(movesOf(pingPong([3000, 12_500])), changes, GRACE_MS).violations).toEqual([]);
  });

  it('finds a stream moved twice with membership stable', () => {
    // The join acted by 3500 at the latest: both moves came after it.
    const changes = [change('join', b, 1000, 1500)];
    const verdict = checkMoves(movesOf(pingPong([4000, 6000])), changes, GRACE_MS);
    expect(verdict.violations).toHaveLength(1);
    expect(verdict.violations[0]).toMatch(/^"s" moved twice with no change of membership between: a -> b at .*, then b -> a at .*join of b/);
  });

  it('lets one change stand between one pair of moves of a stream only', () => {
    const changes = [change('drain', a, 5000), change('resume', a, 20_000)];
    expect(checkMoves(movesOf(pingPong([4000, 5500, 6000])), changes, GRACE_MS).violations).toHaveLength(1);
    expect(checkMoves(movesOf(pingPong([4000, 5500, 21_000])), changes, GRACE_MS).violations).toEqual([]);
  });

  it('counts rebalancing only: a hand-off by close() or drain() is the change itself', () => {
    const giver = member('a', [added('s', 1, 0), released('s', 1, 100, 'drain'), added('t', 3, 0), released('t', 3, 200, 'close')]);
    const taker = member('b', [added('s', 2, 110, 'handoff'), added('t', 4, 210, 'handoff')]);
    expect(movesOf([giver, taker])).toEqual([]);
  });

  it('takes a move from its release and the next grant, whoever reported first', () => {
    const giver = member('a', [added('s', 1, 0), released('s', 1, 500)]);
    const taker = member('b', [added('s', 7, 490, 'handoff'), added('s', 9, 900, 'handoff')]);
    expect(movesOf([giver, taker])).toEqual([{ stream: 's', from: 'a', to: 'b', origin: 'handoff', at: 490 }]);
  });
});

describe('checkDrains', () => {
  const drained = (at: number, kept: string[] = [], owned = kept): ConsumerReport => ({ event: 'drained', handedOver: 1, kept, owned, at });
  const resuming = (at: number): ConsumerReport => ({ event: 'resuming', at });

  it('passes a drain that kept nothing, owned nothing and took nothing until resume()', () => {
    const drainer = member('a', [added('s', 1, 0), released('s', 1, 100, 'drain'), drained(110), resuming(2000), added('t', 2, 2100)]);
    expect(checkDrains([drainer])).toEqual({ violations: [], drains: 1, keptNothing: 1 });
  });

  it('finds a stream taken after drain() resolved having kept nothing, before resume()', () => {
    const drainer = member('a', [drained(110), added('t', 2, 500), resuming(2000)]);
    expect(checkDrains([drainer]).violations).toEqual([
      'a: drain() resolved at 110 with kept = [], yet it took "t" (new, token 2) at 500, before resume()',
    ]);
  });

  it('finds a stream still owned by the events when drain() resolved having kept nothing', () => {
    const drainer = member('a', [added('s', 1, 0), drained(110)]);
    expect(checkDrains([drainer]).violations).toEqual([
      'a: drain() resolved at 110 with kept = [], yet it owned "s" (by its events: 1, by client.owned(): 0)',
    ]);
  });

  it('holds a drain that kept streams (nobody could take them) to nothing', () => {
    const drainer = member('a', [added('s', 1, 0), drained(110, ['s']), added('t', 2, 500)]);
    expect(checkDrains([drainer])).toEqual({ violations: [], drains: 1, keptNothing: 0 });
  });
});

describe('checkRestarts', () => {
  const ready = (at: number): ConsumerReport => ({ event: 'ready', id: 'a', pid: 2, at });
  const old = member('a', [added('s', 1, 0), added('t', 2, 0), released('s', 1, 1000, 'close'), released('t', 2, 1000, 'close')]);
  const kept = new Map([['s', 1], ['t', 2]]);
  const restartOf = (next: Member, overrides: Partial<Restart> = {}): Restart => ({ old, closedAt: 1000, kept, reserved: true, atOnce: true, next, ...overrides });

  it('passes a process back within the grace that took every kept stream back, origin restart, with nobody else before it', () => {
    const next = member('a', [ready(2500), added('s', 3, 2600, 'restart'), added('t', 4, 2600, 'restart')]);
    const other = member('b', [added('s', 5, 9000, 'handoff')]);
    expect(checkRestarts([restartOf(next)], [old, next, other], [], RESTART_GRACE_MS)).toEqual({
      violations: [], withinGrace: 1, disturbed: 0, pastGrace: 0, unreserved: 0,
    });
  });

  it('finds a kept stream granted to another consumer before the process back within the grace had it', () => {
    const next = member('a', [ready(2500), added('s', 3, 2600, 'restart'), added('t', 5, 2700, 'restart')]);
    const other = member('b', [added('t', 4, 2000, 'takeover')]);
    const { violations } = checkRestarts([restartOf(next)], [old, next, other], [], RESTART_GRACE_MS);
    expect(violations).toEqual([
      `"t" kept by a's close({ restart: true }) at 1000 was granted to b (takeover) at 2000, before a's next process (ready at 2500) took it back`,
    ]);
  });

  it('finds a kept stream the process back within the grace did not get back with origin restart', () => {
    const next = member('a', [ready(2500), added('s', 3, 2600, 'restart'), added('t', 4, 2600, 'handoff')]);
    expect(checkRestarts([restartOf(next)], [old, next], [], RESTART_GRACE_MS).violations).toEqual([
      `"t" kept by a's close({ restart: true }) at 1000: its next process, ready within the grace at 2500, got it back with origin 'handoff' (expected origin 'restart')`,
    ]);
  });

  it('past the grace, allows the others the kept streams only once it has run out', () => {
    const next = member('a', [ready(9000)]);
    const late = member('b', [added('s', 3, 6100, 'takeover'), added('t', 4, 6200, 'takeover')]);
    const early = member('b', [added('s', 3, 5900, 'takeover'), added('t', 4, 6200, 'takeover')]);
    expect(checkRestarts([restartOf(next, { atOnce: false })], [old, next, late], [], RESTART_GRACE_MS)).toMatchObject({ violations: [], pastGrace: 1 });
    expect(checkRestarts([restartOf(next, { atOnce: false })], [old, next, early], [], RESTART_GRACE_MS).violations).toEqual([
      `"s" kept by a's close({ restart: true }) at 1000 was granted to b (takeover) at 5900, within the grace (until 6000)`,
    ]);
  });

  it('counts as disturbed a restart a pause overlapped, and skips one whose streams were not kept', () => {
    const next = member('a', [ready(2500), added('s', 4, 4000, 'restart')]);
    const other = member('b', [added('t', 3, 3500, 'takeover')]);
    const pause = change('pause', next, 2700, 4200);
    expect(checkRestarts([restartOf(next)], [old, next, other], [pause], RESTART_GRACE_MS)).toMatchObject({ violations: [], disturbed: 1 });
    expect(checkRestarts([restartOf(next, { reserved: false })], [old, next, other], [], RESTART_GRACE_MS)).toMatchObject({ violations: [], unreserved: 1 });
  });
});
