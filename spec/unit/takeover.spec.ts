import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadLetterError, SessionLostError } from '../../lib/errors.js';
import type { ExpiredStream } from '../../lib/events.js';
import type { LeaseGrant } from '../../lib/leases.js';
import type { RedisStreamClientOptions } from '../../lib/options.js';
import { rendezvous } from '../../lib/rendezvous.js';
import { Takeover } from '../../lib/takeover.js';
import { deferred, FakeScriptRunner, FakeSession, isSettled, unitContext, type ScriptCall } from '../support/unit-fakes.js';

// lib/ imports setTimeout from node:timers/promises by name, which vi.useFakeTimers() does not reach: sleep on the
// global timers instead, which it does.
vi.mock('node:timers/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:timers/promises')>()),
  setTimeout: (ms: number) => new Promise<void>((resolve) => globalThis.setTimeout(resolve, ms)),
}));

/** min(250 ms, heartbeatMs / 4) with the default heartbeatMs of 2000. */
const GRACE_MS = 250;

const id = (n: number): string => `${n}-0`;
const streamOf = (lbsId: string): string => `stream:${lbsId.split('-')[0]}`;
const rawOf = (lbsId: string): string => JSON.stringify({ DataStreamName: streamOf(lbsId), Info: { n: Number(lbsId.split('-')[0]) } });
const sequence = (lbsId: string): number => Number(lbsId.split('-')[0]);

/**
 * The dead peer's entries as the scripts see them: pending under it until someone claims them. `list-orphans`,
 * `read-orphans` and `claim` answer from here the way the Lua scripts do.
 */
class DeadPeer {
  alive = false;
  /** Consumers whose session is alive. */
  live = ['me'];
  /** Ids still pending under the dead peer, in id order. */
  pending: string[];
  /** Entries that go to the dead-letter stream when read or claimed, with why. */
  readonly poisoned = new Map<string, 'poison' | 'malformed'>();
  readonly claimedBy = new Map<string, string>();
  private token = 100;

  constructor(count: number) {
    this.pending = Array.from({ length: count }, (_, i) => id(i + 1));
  }

  answer(runner: FakeScriptRunner): void {
    runner
      .on('list-orphans', (args) => this.list(String(args[2]), Number(args[3])))
      .on('read-orphans', (args) => this.read(args.slice(3).map(String)))
      .on('claim', (args) => this.claim(String(args[1]), claimedIds(args)));
  }

  list(after: string, count: number): unknown {
    if (this.alive) return ['alive'];
    const page = this.pending.filter((lbsId) => after === '-' || sequence(lbsId) > sequence(after)).slice(0, count);
    return ['orphaned', page.length === count ? page.at(-1)! : '', [...this.live], ...page];
  }

  read(ids: string[]): unknown {
    if (this.alive) return ['alive'];
    const items = ids.filter((lbsId) => this.pending.includes(lbsId)).map((lbsId) => {
      if (!this.poisoned.has(lbsId)) return ['expired', lbsId, streamOf(lbsId), rawOf(lbsId)];
      this.drop(lbsId);
      return ['dead', lbsId, 'lbs-input is not valid JSON'];
    });
    return ['orphaned', ...items];
  }

  claim(claimer: string, ids: string[]): unknown {
    if (this.alive) return ['ok', ...ids.map(() => 'alive')];
    const items = ids.map((lbsId) => {
      if (!this.pending.includes(lbsId)) return 'taken';
      this.drop(lbsId);
      const poisoned = this.poisoned.get(lbsId);
      if (poisoned) return poisoned;
      this.claimedBy.set(lbsId, claimer);
      return [this.token++, streamOf(lbsId), rawOf(lbsId), 'takeover'];
    });
    return ['ok', ...items];
  }

  /** Another survivor claims these. */
  claimedElsewhere(ids: readonly string[]): void {
    for (const lbsId of ids) this.drop(lbsId);
  }

  private drop(lbsId: string): void {
    this.pending = this.pending.filter((pending) => pending !== lbsId);
  }
}

/** The ids a claim call names: its arguments end with (id, stream, known) triples. */
function claimedIds(args: ScriptCall['args']): string[] {
  const triples = args.slice(7);
  return triples.filter((_, i) => i % 3 === 0).map(String);
}

/** The ids a read-orphans call names. */
function readIds(call: ScriptCall): string[] {
  return call.args.slice(3).map(String);
}

function setUp(count: number, options: Partial<RedisStreamClientOptions> = {}) {
  const runner = new FakeScriptRunner();
  const peer = new DeadPeer(count);
  peer.answer(runner);
  const session = new FakeSession();
  const expired: ExpiredStream[] = [];
  const claimed: LeaseGrant[] = [];
  const errors: unknown[] = [];
  let claimFailures = 0;
  const takeover = new Takeover(unitContext(runner, options), session.asSession(), {
    onExpired: (payload) => void expired.push(payload),
    onClaimed: (grant) => void claimed.push(grant),
    onClaimFailed: () => void claimFailures++,
    onError: (error) => void errors.push(error),
  });
  return {
    takeover,
    runner,
    peer,
    session,
    expired,
    claimed,
    errors,
    claimFailures: () => claimFailures,
    claimCalls: () => runner.callsOf('claim').map((call) => claimedIds(call.args)),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('Takeover splits a dead peer among the survivors', () => {
  it('acts first on the entries rendezvous hashing gives this consumer, then after the grace on all still listed', async () => {
    const { takeover, peer, claimCalls, claimed } = setUp(40, { autoClaim: true });
    peer.live = ['me', 'peer-b'];
    const all = [...peer.pending];
    const preferred = rendezvous(['me', 'peer-b']);
    const mine = all.filter((lbsId) => preferred(lbsId) === 'me');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThan(all.length);

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(claimCalls()).toEqual([mine]);
    expect(claimed.map((grant) => grant.lbsId)).toEqual(mine);

    // peer-b did not claim its share within the grace: this consumer takes whatever is still listed.
    await vi.advanceTimersByTimeAsync(1);
    expect(claimCalls()).toEqual([mine, all.filter((lbsId) => !mine.includes(lbsId))]);
    expect(peer.pending).toEqual([]);
  });

  it('after the grace claims nothing the other survivors have claimed meanwhile', async () => {
    const { takeover, runner, peer, claimCalls } = setUp(40, { autoClaim: true });
    peer.live = ['me', 'peer-b'];
    const preferred = rendezvous(['me', 'peer-b']);
    const theirs = peer.pending.filter((lbsId) => preferred(lbsId) === 'peer-b');

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);
    peer.claimedElsewhere(theirs);
    await vi.advanceTimersByTimeAsync(GRACE_MS);

    expect(runner.callsOf('list-orphans')).toHaveLength(2);
    expect(claimCalls()).toHaveLength(1);
  });

  it('counts itself among the survivors even when the listing does not name it', async () => {
    const { takeover, peer, claimCalls } = setUp(40, { autoClaim: true });
    peer.live = ['peer-b'];
    const preferred = rendezvous(['peer-b', 'me']);
    const mine = peer.pending.filter((lbsId) => preferred(lbsId) === 'me');

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    expect(claimCalls()).toEqual([mine]);
  });

  it('alone, acts on everything at once and lists no second time', async () => {
    const { takeover, runner, peer, claimCalls } = setUp(40, { autoClaim: true });
    const all = [...peer.pending];
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);

    expect(claimCalls()).toEqual([all]);
    expect(runner.callsOf('list-orphans')).toHaveLength(1);
  });

  it('manual mode reads and reports only its own share first, the rest after the grace', async () => {
    const { takeover, runner, peer, expired } = setUp(40);
    peer.live = ['me', 'peer-b'];
    const all = [...peer.pending];
    const preferred = rendezvous(['me', 'peer-b']);
    const mine = all.filter((lbsId) => preferred(lbsId) === 'me');

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(GRACE_MS - 1);
    expect(runner.callsOf('read-orphans').map(readIds)).toEqual([mine]);
    expect(expired.map((payload) => payload.lbsId)).toEqual(mine);

    await vi.advanceTimersByTimeAsync(1);
    // Nobody claimed: the second pass reports everything still listed, its own share again included.
    expect(runner.callsOf('read-orphans').map(readIds)).toEqual([mine, all]);
  });

  it("an 'alive' listing (the peer's session exists) claims nothing, reads nothing and does not look again", async () => {
    const { takeover, runner, peer } = setUp(40, { autoClaim: true });
    peer.alive = true;
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);

    expect(runner.calls.map((call) => call.name)).toEqual(['list-orphans']);
  });

  it('ignores reports of its own id', async () => {
    const { takeover, runner } = setUp(40, { autoClaim: true });
    takeover.handle('me');
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(runner.calls).toEqual([]);
  });
});

describe('Takeover works page by page, in batches', () => {
  it('acts on each page of the listing as it comes, while the next is listed', async () => {
    const { takeover, runner, peer, claimCalls } = setUp(1500, { autoClaim: true });
    const all = [...peer.pending];
    const secondPage = deferred<void>();
    runner.on('list-orphans', async (args) => {
      if (args[2] !== '-') await secondPage.promise;
      return peer.list(String(args[2]), Number(args[3]));
    });

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);
    expect(runner.callsOf('list-orphans').map((call) => call.args[2])).toEqual(['-', id(1000)]);
    expect(claimCalls()).toEqual([all.slice(0, 500), all.slice(500, 1000)]);

    secondPage.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(claimCalls()).toEqual([all.slice(0, 500), all.slice(500, 1000), all.slice(1000)]);
  });

  it('autoClaim sends at most 500 entries per claim call, without waiting for the replies to earlier ones', async () => {
    const { takeover, runner, peer, claimCalls, claimed } = setUp(1200, { autoClaim: true });
    const replies = deferred<void>();
    runner.on('claim', async (args) => {
      await replies.promise;
      return peer.claim(String(args[1]), claimedIds(args));
    });

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);
    expect(claimCalls().map((ids) => ids.length)).toEqual([500, 500, 200]);
    expect(claimed).toEqual([]);

    replies.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(claimed).toHaveLength(1200);
  });

  it('manual mode reads at most 500 entries per call and reports each batch as soon as it is read', async () => {
    const { takeover, runner, peer, expired } = setUp(1200);
    const slowRead = deferred<void>();
    runner.on('read-orphans', async (args) => {
      if (args[3] === id(501)) await slowRead.promise;
      return peer.read(args.slice(3).map(String));
    });

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);
    expect(runner.callsOf('read-orphans').map((call) => readIds(call).length).sort()).toEqual([200, 500, 500]);
    const reported = (): number[] => expired.map((payload) => sequence(payload.lbsId)).sort((a, b) => a - b);
    const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(reported()).toEqual([...range(1, 500), ...range(1001, 1200)]);

    slowRead.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(reported()).toEqual(range(1, 1200));
  });
});

describe('Takeover.claimOne()', () => {
  it('sends the claims of one tick in one script call, and settles each with its own outcome', async () => {
    const { takeover, runner, peer, session } = setUp(3);
    const claims = [id(1), id(2), id(9)].map((lbsId) => takeover.claimOne('dead', { lbsId, stream: streamOf(lbsId), known: true }));
    await vi.advanceTimersByTimeAsync(0);

    const calls = runner.callsOf('claim');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args.slice(1, 4)).toEqual(['me', session.nonce, 'dead']);
    expect(calls[0]!.args.slice(7)).toEqual([id(1), streamOf(id(1)), 1, id(2), streamOf(id(2)), 1, id(9), streamOf(id(9)), 1]);
    await expect(Promise.all(claims)).resolves.toEqual([
      { token: 100, stream: streamOf(id(1)), raw: rawOf(id(1)), origin: 'takeover' },
      { token: 101, stream: streamOf(id(2)), raw: rawOf(id(2)), origin: 'takeover' },
      'taken',
    ]);
    expect(peer.pending).toEqual([id(3)]);
  });

  it('claims of a later tick, or of another previous owner, go in calls of their own', async () => {
    const { takeover, runner } = setUp(3);
    const entry = (lbsId: string) => ({ lbsId, stream: streamOf(lbsId), known: false });
    void takeover.claimOne('dead', entry(id(1)));
    void takeover.claimOne('other-dead', entry(id(2)));
    await vi.advanceTimersByTimeAsync(0);
    void takeover.claimOne('dead', entry(id(3)));
    await vi.advanceTimersByTimeAsync(0);

    expect(runner.callsOf('claim').map((call) => [call.args[3], claimedIds(call.args)])).toEqual([
      ['dead', [id(1)]],
      ['other-dead', [id(2)]],
      ['dead', [id(3)]],
    ]);
  });

  it('more than 500 claims of one tick go out in batches of 500', async () => {
    const { takeover, runner } = setUp(1200);
    const claims = Array.from({ length: 1200 }, (_, i) => takeover.claimOne('dead', { lbsId: id(i + 1), stream: '', known: false }));
    await vi.advanceTimersByTimeAsync(0);

    expect(runner.callsOf('claim').map((call) => claimedIds(call.args).length)).toEqual([500, 500, 200]);
    const outcomes = await Promise.all(claims);
    expect(outcomes.every((outcome) => typeof outcome === 'object')).toBe(true);
  });

  it("'alive' (the previous owner's session exists) settles every claim of the call with 'owner-alive'", async () => {
    const { takeover, peer } = setUp(2);
    peer.alive = true;
    const claims = [id(1), id(2)].map((lbsId) => takeover.claimOne('dead', { lbsId, stream: streamOf(lbsId), known: true }));
    await vi.advanceTimersByTimeAsync(0);

    await expect(Promise.all(claims)).resolves.toEqual(['owner-alive', 'owner-alive']);
  });

  it("'lost' (this consumer's session is gone) rejects every claim of the call with SessionLostError", async () => {
    const { takeover, runner } = setUp(2);
    runner.on('claim', () => ['lost']);
    const claims = [id(1), id(2)].map((lbsId) => takeover.claimOne('dead', { lbsId, stream: streamOf(lbsId), known: true }));
    for (const claim of claims) claim.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);

    for (const claim of claims) await expect(claim).rejects.toBeInstanceOf(SessionLostError);
  });

  it('a claim call that fails fires onClaimFailed (its script may have granted entries) and rejects its claims', async () => {
    const { takeover, runner, claimFailures } = setUp(2);
    runner.on('claim', () => {
      throw new Error('Socket closed unexpectedly');
    });
    const claims = [id(1), id(2)].map((lbsId) => takeover.claimOne('dead', { lbsId, stream: streamOf(lbsId), known: true }));
    for (const claim of claims) claim.catch(() => undefined);
    await vi.advanceTimersByTimeAsync(0);

    for (const claim of claims) await expect(claim).rejects.toThrow('Socket closed unexpectedly');
    expect(claimFailures()).toBe(1);
  });
});

describe('Takeover.handle() and stop()', () => {
  it('a report while a takeover of the same peer runs causes exactly one more pass afterwards', async () => {
    const { takeover, runner, peer } = setUp(5, { autoClaim: true });
    const firstListing = deferred<void>();
    runner.on('list-orphans', async (args) => {
      if (runner.callsOf('list-orphans').length === 1) await firstListing.promise;
      return peer.list(String(args[2]), Number(args[3]));
    });

    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);
    takeover.handle('dead');
    takeover.handle('dead');
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(runner.callsOf('list-orphans')).toHaveLength(1);

    firstListing.resolve();
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(runner.callsOf('list-orphans')).toHaveLength(2);
  });

  it('takeovers of different peers run side by side', async () => {
    const { takeover, runner } = setUp(5, { autoClaim: true });
    runner.on('list-orphans', () => new Promise(() => undefined));
    takeover.handle('dead-1');
    takeover.handle('dead-2');
    await vi.advanceTimersByTimeAsync(0);

    expect(runner.callsOf('list-orphans').map((call) => call.args[1])).toEqual(['dead-1', 'dead-2']);
  });

  it('stop() resolves once the takeovers under way have ended, and handle() does nothing after it', async () => {
    const { takeover, runner, peer, claimed } = setUp(5, { autoClaim: true });
    const listing = deferred<void>();
    runner.on('list-orphans', async (args) => {
      await listing.promise;
      return peer.list(String(args[2]), Number(args[3]));
    });
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    const stopped = takeover.stop();
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(await isSettled(stopped)).toBe(false);

    listing.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(await isSettled(stopped)).toBe(true);
    expect(claimed).toHaveLength(5); // the takeover under way ran to its end

    const before = runner.calls.length;
    takeover.handle('dead-2');
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);
    expect(runner.calls).toHaveLength(before);
  });

  it('a takeover stops at its next step once the session is no longer valid', async () => {
    const { takeover, runner, peer, session, claimed } = setUp(1500, { autoClaim: true });
    const firstPage = deferred<void>();
    runner.on('list-orphans', async (args) => {
      await firstPage.promise;
      return peer.list(String(args[2]), Number(args[3]));
    });
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    session.valid = false;
    firstPage.resolve();
    await vi.advanceTimersByTimeAsync(10 * GRACE_MS);

    expect(runner.callsOf('list-orphans')).toHaveLength(1);
    expect(runner.callsOf('claim')).toEqual([]);
    expect(claimed).toEqual([]);
  });
});

describe('Takeover reports and claims', () => {
  it('manual mode emits frozen streamExpired payloads that reportedHere() recognises, and not a copy', async () => {
    const { takeover, expired } = setUp(2);
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    expect(expired).toEqual([
      { stream: streamOf(id(1)), lbsId: id(1), info: { n: 1 }, previousOwner: 'dead' },
      { stream: streamOf(id(2)), lbsId: id(2), info: { n: 2 }, previousOwner: 'dead' },
    ]);
    for (const payload of expired) {
      expect(Object.isFrozen(payload)).toBe(true);
      expect(takeover.reportedHere(payload)).toBe(true);
      expect(takeover.reportedHere({ ...payload })).toBe(false);
    }
  });

  it('manual mode: an entry dead-lettered when read is reported as a DeadLetterError naming it, and not as streamExpired', async () => {
    const { takeover, peer, expired, errors } = setUp(3);
    peer.poisoned.set(id(2), 'malformed');
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    expect(expired.map((payload) => payload.lbsId)).toEqual([id(1), id(3)]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(DeadLetterError);
    expect(errors[0]).toMatchObject({ lbsId: id(2), reason: 'lbs-input is not valid JSON' });
  });

  it('autoClaim announces each entry won with its token and Info, and a poison or malformed one as a DeadLetterError', async () => {
    const { takeover, peer, claimed, errors } = setUp(4, { autoClaim: true, maxDeliveries: 3 });
    peer.poisoned.set(id(2), 'poison');
    peer.poisoned.set(id(3), 'malformed');
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    expect(claimed).toEqual([
      { stream: streamOf(id(1)), lbsId: id(1), info: { n: 1 }, token: 100, origin: 'takeover' },
      { stream: streamOf(id(4)), lbsId: id(4), info: { n: 4 }, token: 101, origin: 'takeover' },
    ]);
    expect(errors.map((error) => [error instanceof DeadLetterError, (error as DeadLetterError).lbsId])).toEqual([
      [true, id(2)],
      [true, id(3)],
    ]);
    expect((errors[0] as DeadLetterError).reason).toContain('maxDeliveries');
  });

  it('autoClaim does not announce what an incarnation that has ended meanwhile claimed (the next one takes it back)', async () => {
    const { takeover, runner, peer, session, claimed } = setUp(3, { autoClaim: true });
    const reply = deferred<void>();
    runner.on('claim', async (args) => {
      await reply.promise;
      return peer.claim(String(args[1]), claimedIds(args));
    });
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    session.renew();
    reply.resolve();
    await vi.advanceTimersByTimeAsync(0);

    expect(peer.claimedBy.size).toBe(3);
    expect(claimed).toEqual([]);
  });

  it('autoClaim: a claim call that fails fires onClaimFailed and is reported', async () => {
    const { takeover, runner, errors, claimFailures } = setUp(3, { autoClaim: true });
    runner.on('claim', () => {
      throw new Error('Socket closed unexpectedly');
    });
    takeover.handle('dead');
    await vi.advanceTimersByTimeAsync(0);

    expect(claimFailures()).toBe(1);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('Socket closed unexpectedly');
  });
});
