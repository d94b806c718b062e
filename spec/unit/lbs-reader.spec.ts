import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { keysFor } from '../../lib/keys.js';
import { BLOCK_MS, LbsReader } from '../../lib/lbs-reader.js';
import type { RedisConnection } from '../../lib/redis.js';
import type { EntryOutcome } from '../../lib/scripts/outcomes.js';
import { deferred, FakeScriptRunner, FakeSession, isSettled, unitContext, type Deferred, type ScriptCall } from '../support/unit-fakes.js';

// lib/ imports setTimeout from node:timers/promises by name, which vi.useFakeTimers() does not reach: sleep on the
// global timers instead, which it does.
vi.mock('node:timers/promises', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:timers/promises')>()),
  setTimeout: (ms: number) => new Promise<void>((resolve) => globalThis.setTimeout(resolve, ms)),
}));

/** How long the reader holds back above its fair share, without the peers taking anything, before it takes anyway;
 * and how often it looks meanwhile. */
const HOLD_LIMIT_MS = 250;
const HOLD_POLL_MS = 10;

const keys = keysFor('orders');

/** The reader's own connection: each blocking XREADGROUP waits until the test answers it; closing it fails the
 * read under way, as node-redis does. */
class FakeReaderConnection {
  readonly reads: Array<{ args: string[]; reply: Deferred<unknown> }> = [];
  closed = false;
  /** The connection's id, as CLIENT ID answers it. */
  readonly id = 17;

  sendCommand(args: string[]): Promise<unknown> {
    if (args[0] === 'CLIENT' && args[1] === 'ID') return Promise.resolve(this.id);
    const reply = deferred<unknown>();
    this.reads.push({ args, reply });
    return reply.promise;
  }

  disconnect(): Promise<void> {
    this.closed = true;
    for (const read of this.reads) read.reply.reject(new Error('Disconnects client'));
    return Promise.resolve();
  }

  /** The blocking read under way delivers entry `id`, or times out (null). */
  deliver(id: string | null): void {
    const read = this.reads.at(-1)!;
    read.reply.resolve(id === null ? null : [[keys.lbs, [[id, ['lbs-input', '{"DataStreamName":"s"}']]]]]);
  }
}

/** The arguments of a take call that the reader decides, by name. */
function takeOf(call: ScriptCall) {
  return { nonce: call.args[2], capacity: call.args[4], force: call.args[6], adopt: call.args[7], at: call.at };
}

function setUp(statuses: (call: number) => unknown[] = () => ['empty']) {
  const runner = new FakeScriptRunner();
  let takes = 0;
  runner.on('take', () => statuses(takes++));
  const connection = new FakeReaderConnection();
  const session = new FakeSession();
  const outcomes: EntryOutcome[][] = [];
  const strays: string[][] = [];
  const errors: unknown[] = [];
  const room = { capacity: 1000 };
  const unblocked: number[] = [];
  const reader = new LbsReader(unitContext(runner), session.asSession(), connection as unknown as RedisConnection, {
    onOutcomes: (taken) => void outcomes.push(taken),
    onStrays: (ids) => void strays.push(ids),
    onError: (error) => void errors.push(error),
    capacity: () => room.capacity,
    // The connection manager closes the reader's connection for it.
    interrupt: () => connection.disconnect(),
    unblock: (connectionId) => {
      unblocked.push(connectionId);
      return Promise.resolve();
    },
  });
  readers.push(reader);
  const start = performance.now();
  return {
    reader,
    runner,
    connection,
    session,
    outcomes,
    strays,
    errors,
    room,
    unblocked,
    /** The take calls so far, their time in ms since setUp. */
    takes: () => runner.callsOf('take').map((call) => ({ ...takeOf(call), at: call.at - start })),
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
});

/** Readers of the current spec, stopped after it so that no loop outlives it (one waiting for a take reply that
 * never comes is left to the garbage collector: nothing else refers to it). */
const readers: LbsReader[] = [];

afterEach(async () => {
  for (const reader of readers.splice(0)) void reader.stop();
  await vi.advanceTimersByTimeAsync(HOLD_LIMIT_MS);
  vi.useRealTimers();
});

describe('LbsReader takes and waits', () => {
  it("takes while there may be more; on 'empty' blocks in XREADGROUP on its own connection, and takes nothing meanwhile", async () => {
    const { reader, connection, session, takes } = setUp((call) => [call < 2 ? 'more' : 'empty']);
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    expect(takes().map(({ nonce, capacity, force, adopt }) => ({ nonce, capacity, force, adopt }))).toEqual(
      Array.from({ length: 3 }, () => ({ nonce: session.nonce, capacity: 100, force: 0, adopt: '' })),
    );
    expect(connection.reads.map((read) => read.args)).toEqual([
      ['XREADGROUP', 'GROUP', keys.group, 'me', 'COUNT', '1', 'BLOCK', String(BLOCK_MS), 'STREAMS', keys.lbs, '>'],
    ]);
    await vi.advanceTimersByTimeAsync(3 * BLOCK_MS);
    expect(takes()).toHaveLength(3);
  });

  it('an entry the blocking read delivered is adopted by the next take of the same incarnation', async () => {
    const { reader, connection, session, takes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    connection.deliver('7-0');
    await vi.advanceTimersByTimeAsync(0);
    expect(takes().map(({ nonce, adopt }) => ({ nonce, adopt }))).toEqual([
      { nonce: session.nonce, adopt: '' },
      { nonce: session.nonce, adopt: '7-0' },
    ]);

    connection.deliver(null); // the next read times out: nothing to adopt
    await vi.advanceTimersByTimeAsync(0);
    expect(takes().at(-1)!.adopt).toBe('');
  });

  it('an entry read for an incarnation that has ended meanwhile goes to onStrays, not to the new incarnation', async () => {
    const { reader, connection, session, strays, takes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    session.renew(); // a stall: the session was lost and renewed while the read was blocked
    connection.deliver('7-0');
    await vi.advanceTimersByTimeAsync(0);

    expect(strays).toEqual([['7-0']]);
    expect(takes().at(-1)).toMatchObject({ nonce: session.nonce, adopt: '' });
  });

  it('hands what a take granted to onOutcomes while the incarnation that took it is current, and drops it otherwise', async () => {
    const granted = ['granted', '5-0', 'orders:5', '{"DataStreamName":"orders:5","Info":{"n":5}}', 41];
    const { reader, runner, session, outcomes } = setUp();
    const replies: Array<Deferred<unknown[]>> = [];
    runner.on('take', () => {
      const reply = deferred<unknown[]>();
      replies.push(reply);
      return reply.promise;
    });
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    replies[0]!.resolve(['more', granted]);
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes).toEqual([[{ kind: 'granted', lbsId: '5-0', stream: 'orders:5', info: { n: 5 }, token: 41 }]]);

    session.renew(); // the reply comes after the incarnation that took it ended: the next one takes it back
    replies[1]!.resolve(['more', granted]);
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes).toHaveLength(1);
  });
});

describe('LbsReader keeps to its fair share', () => {
  /** A 'hold' reply: the LBS group's last delivered id when the take was held back. */
  const hold = (progress: string) => ['hold', progress];

  it("on 'hold' looks again every 10 ms, and once 250 ms have passed without progress takes anyway (force)", async () => {
    const { reader, takes } = setUp(() => hold('5-0'));
    reader.start();
    await vi.advanceTimersByTimeAsync(HOLD_LIMIT_MS + 3 * HOLD_POLL_MS);

    const all = takes();
    const forced = all.filter((take) => take.force === 1);
    const held = all.filter((take) => take.force === 0);
    for (let i = 1; i < all.length; i++) expect(all[i]!.at - all[i - 1]!.at).toBe(HOLD_POLL_MS);
    expect(held.at(-1)!.at).toBeGreaterThan(HOLD_LIMIT_MS); // the look that proved 250 ms without progress
    expect(forced[0]!.at).toBeLessThanOrEqual(HOLD_LIMIT_MS + 2 * HOLD_POLL_MS);
  });

  it('holds back for as long as the peers take, however slowly (the last delivered id moves)', async () => {
    // A peer takes something every 200 ms: seen every 20th look.
    const { reader, takes } = setUp((call) => hold(`${Math.floor(call / 20)}-0`));
    reader.start();
    await vi.advanceTimersByTimeAsync(10 * HOLD_LIMIT_MS);

    expect(takes().length).toBeGreaterThan(200);
    expect(takes().filter((take) => take.force === 1)).toEqual([]);
  });

  it('takes anyway 250 ms after the last progress it saw, once the peers stop taking', async () => {
    // The peers take until the 30th look (300 ms in), then nothing.
    const { reader, takes } = setUp((call) => hold(`${Math.min(call, 30)}-0`));
    reader.start();
    await vi.advanceTimersByTimeAsync(3 * HOLD_LIMIT_MS);

    const forced = takes().find((take) => take.force === 1)!;
    expect(forced.at).toBeGreaterThan(300 + HOLD_LIMIT_MS);
    expect(forced.at).toBeLessThanOrEqual(300 + HOLD_LIMIT_MS + 2 * HOLD_POLL_MS);
  });

  it('a late reply is no proof that the peers took nothing meanwhile: it looks again before it takes anyway', async () => {
    const { reader, runner, takes } = setUp();
    let call = 0;
    runner.on('take', () => {
      // The second look's reply comes 400 ms late (a slow Redis, or this process stalled), finding no progress.
      if (call++ !== 1) return hold('5-0');
      return new Promise((resolve) => setTimeout(() => resolve(hold('5-0')), 400));
    });
    reader.start();
    await vi.advanceTimersByTimeAsync(400 + 4 * HOLD_POLL_MS);

    // Nothing moved between the first reply (0 ms) and the late look's sending (10 ms): not yet 250 ms of proof.
    expect(takes().slice(0, 4).map((take) => [take.at, take.force])).toEqual([
      [0, 0],
      [10, 0],
      [420, 0], // the look sent after it, still finding no progress, proves 420 ms...
      [430, 1], // ...so the next take ignores the fair share
    ]);
  });

  it('a take that is not held back starts the count again', async () => {
    // Held without progress for 300 ms, then one take goes through, then held again.
    const { reader, takes } = setUp((call) => (call === 31 ? ['more'] : call > 45 ? ['empty'] : hold('5-0')));
    reader.start();
    await vi.advanceTimersByTimeAsync(1000);

    const all = takes();
    expect(all[31]!.force).toBe(1);
    expect(all.slice(32, 46).map((take) => take.force)).toEqual(Array.from({ length: 14 }, () => 0));
  });
});

describe('LbsReader takes only what it may', () => {
  it('takes nothing while the session is not valid, and resumes when it is', async () => {
    const { reader, session, takes } = setUp();
    session.valid = false;
    reader.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(takes()).toEqual([]);

    session.valid = true;
    await vi.advanceTimersByTimeAsync(100);
    expect(takes()).toHaveLength(1);
  });

  it('asks for at most 100 entries, and for what capacity() allows below that', async () => {
    const { reader, room, takes } = setUp((call) => [call < 1 ? 'more' : 'empty']);
    room.capacity = 7;
    reader.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(takes()[0]!.capacity).toBe(7);
  });

  it('at maxStreams (capacity 0) takes nothing new, but still admits an entry the blocking read delivered', async () => {
    const { reader, connection, room, takes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    room.capacity = 0;
    connection.deliver('7-0');
    await vi.advanceTimersByTimeAsync(1000);

    expect(takes().map(({ capacity, adopt }) => ({ capacity, adopt }))).toEqual([
      { capacity: 100, adopt: '' },
      { capacity: 0, adopt: '7-0' },
    ]);
  });
});

describe('LbsReader.settle() (drain)', () => {
  it('ends the blocking read early by its connection id, and resolves once the loop stands idle', async () => {
    const { reader, connection, room, unblocked, takes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    room.capacity = 0;
    const settled = reader.settle();
    await vi.advanceTimersByTimeAsync(0);
    expect(unblocked).toEqual([connection.id]);
    expect(await isSettled(settled)).toBe(false);

    connection.deliver(null); // what CLIENT UNBLOCK ... TIMEOUT makes the read return
    await vi.advanceTimersByTimeAsync(0);
    expect(await isSettled(settled)).toBe(true);
    expect(takes()).toHaveLength(1);
  });

  it('admits what the read delivered before it was ended, before it resolves: nothing arrives afterwards', async () => {
    const { reader, connection, room, takes, outcomes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);
    room.capacity = 0;
    const settled = reader.settle();
    connection.deliver('7-0'); // delivered just before the unblock reached Redis
    await vi.advanceTimersByTimeAsync(0);

    expect(await isSettled(settled)).toBe(true);
    expect(takes().at(-1)).toMatchObject({ capacity: 0, adopt: '7-0' });
    expect(outcomes).toHaveLength(0); // the fake take admits nothing; the call is what matters
    await vi.advanceTimersByTimeAsync(1000);
    expect(takes()).toHaveLength(2);
  });

  it('resolves at once when the reader is not running', async () => {
    const { reader } = setUp();
    await expect(reader.settle()).resolves.toBeUndefined();
  });
});

describe('LbsReader.stop()', () => {
  it('interrupts the blocking read by having its connection closed, ends the loop and leaves no timer', async () => {
    const { reader, connection, errors, takes } = setUp();
    reader.start();
    await vi.advanceTimersByTimeAsync(0);

    const stopped = reader.stop();
    await vi.advanceTimersByTimeAsync(0);

    expect(await isSettled(stopped)).toBe(true);
    expect(connection.closed).toBe(true);
    expect(errors).toEqual([]); // the interrupted read is not an error
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * BLOCK_MS);
    expect(takes()).toHaveLength(1);
  });

  it('while held back, ends the loop at its next look', async () => {
    const { reader, takes } = setUp(() => ['hold', '5-0']);
    reader.start();
    await vi.advanceTimersByTimeAsync(HOLD_POLL_MS * 3);
    const before = takes().length;

    const stopped = reader.stop();
    await vi.advanceTimersByTimeAsync(HOLD_POLL_MS);

    expect(await isSettled(stopped)).toBe(true);
    expect(takes()).toHaveLength(before);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('LbsReader after a failure', () => {
  it('reports a failed take and tries again after a backoff', async () => {
    const { reader, runner, errors, takes } = setUp();
    let failures = 1;
    runner.on('take', () => {
      if (failures-- > 0) throw new Error('LOADING Redis is loading the dataset in memory');
      return ['empty'];
    });
    reader.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(errors).toHaveLength(1);
    expect(takes()).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(100); // the first backoff is at most 50 ms
    expect(takes()).toHaveLength(2);
  });

  it('creates the consumer group when a take finds it missing (NOGROUP), then takes again', async () => {
    const commands: string[][] = [];
    const runner = new FakeScriptRunner();
    let failures = 1;
    runner.on('take', () => {
      if (failures-- > 0) throw new Error('NOGROUP No such key or consumer group');
      return ['empty'];
    });
    const redis = {
      sendCommand: (args: string[]): Promise<unknown> => {
        commands.push(args);
        return Promise.resolve('OK');
      },
    };
    const connection = new FakeReaderConnection();
    const reader = new LbsReader(unitContext(runner, {}, redis), new FakeSession().asSession(), connection as unknown as RedisConnection, {
      onOutcomes: () => undefined,
      onStrays: () => undefined,
      onError: () => undefined,
      capacity: () => 1000,
      interrupt: () => connection.disconnect(),
      unblock: () => Promise.resolve(),
    });
    readers.push(reader);
    reader.start();
    await vi.advanceTimersByTimeAsync(100);

    expect(commands).toEqual([['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']]);
    expect(runner.callsOf('take')).toHaveLength(2);
  });
});
