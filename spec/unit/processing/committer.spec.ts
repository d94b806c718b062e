import { describe, expect, it, vi } from 'vitest';
import { sessionKey } from '../../../lib/keys.js';
import { Committer } from '../../../lib/processing/committer.js';
import { parseEntriesOptions } from '../../../lib/processing/run-options.js';
import type { StreamWork } from '../../../lib/processing/stream-work.js';
import { Streams, settle, useFakeTimersPerTest } from '../../support/processing-fakes.js';
import { deferred, FakeScriptRunner, FakeSession, isSettled, unitContext, type Deferred } from '../../support/unit-fakes.js';

/** One position as a commit-positions call carries it (and the lease's LBS entry id, left out here). */
interface Sent {
  readonly stream: string;
  readonly id: string;
  readonly token: string | number;
}

/** The positions of a commit-positions call: ARGV is the nonce, the group and the consumer, then quadruples. */
function sentOf(args: ReadonlyArray<string | number>): Sent[] {
  const sent: Sent[] = [];
  for (let i = 3; i < args.length; i += 4) sent.push({ stream: String(args[i]), id: String(args[i + 1]), token: args[i + 2]! });
  return sent;
}

/**
 * commit-positions as the script answers: 'committed' for each position, except the streams in `stale`; 'lost' while
 * `lost`; a Redis error while `failing`; or, while `held`, a reply the spec gives later.
 */
class CommitScript {
  readonly stale = new Set<string>();
  lost = false;
  failing: Error | undefined;
  readonly held: Array<Deferred<void>> = [];
  hold = false;

  constructor(readonly runner: FakeScriptRunner) {
    runner.on('commit-positions', async (args) => {
      if (this.hold) {
        const reply = deferred<void>();
        this.held.push(reply);
        await reply.promise;
      }
      if (this.failing) throw this.failing;
      if (this.lost) return ['lost'];
      return ['ok', ...sentOf(args).map(({ stream }) => (this.stale.has(stream) ? 'stale' : 'committed'))];
    });
  }

  /** The positions of each call, in order. */
  get calls(): Sent[][] {
    return this.runner.callsOf('commit-positions').map((call) => sentOf(call.args));
  }
}

function setUp(commitIntervalMs = 100) {
  const runner = new FakeScriptRunner();
  const script = new CommitScript(runner);
  const context = unitContext(runner);
  const session = new FakeSession();
  const events = { stale: [] as string[], committed: [] as string[], errors: [] as unknown[] };
  const committer = new Committer(context, session.asSession(), {
    onStale: (work) => events.stale.push(work.stream),
    onCommitted: (work, id) => events.committed.push(`${work.stream} ${id}`),
    onError: (error) => events.errors.push(error),
  });
  const streams = new Streams(parseEntriesOptions({ commitIntervalMs }));
  const works = new Map<string, StreamWork>();
  /** The stream's entries up to `id` are processed: marked for the commit, as the processing does. */
  const processed = (stream: string, id: string): StreamWork => {
    const work = works.get(stream) ?? streams.open(stream);
    works.set(stream, work);
    work.processed = id;
    committer.mark(work);
    return work;
  };
  return { runner, script, context, session, events, committer, streams, processed };
}


useFakeTimersPerTest();

describe('Committer: what a commit carries', () => {
  it('commits the positions of many streams in one call, fenced by each lease token and the session nonce', async () => {
    const { runner, script, context, session, events, committer, processed } = setUp();
    const works = [processed('a', '3-0'), processed('b', '7-1'), processed('c', '1700000000000-0')];
    await committer.flush();
    expect(script.calls).toEqual([[
      { stream: 'a', id: '3-0', token: 7 },
      { stream: 'b', id: '7-1', token: 7 },
      { stream: 'c', id: '1700000000000-0', token: 7 },
    ]]);
    const [call] = runner.callsOf('commit-positions');
    expect(call!.keys).toEqual([context.keys.positions, context.keys.positionTokens, sessionKey(context.keys, 'me'), context.keys.lbs]);
    expect(call!.args.slice(0, 3)).toEqual([session.nonce, context.keys.group, 'me']);
    expect(events.committed).toEqual(['a 3-0', 'b 7-1', 'c 1700000000000-0']);
    // Committed: nothing is left to commit.
    for (const work of works) expect(work.processed).toBeUndefined();
    await committer.flush();
    expect(script.calls).toHaveLength(1);
  });

  it('commits the last position processed, once, however often it moved since the last commit', async () => {
    const { script, committer, processed } = setUp();
    processed('a', '1-0');
    processed('a', '2-0');
    processed('a', '3-0');
    await committer.flush();
    expect(script.calls).toEqual([[{ stream: 'a', id: '3-0', token: 7 }]]);
  });

  it('sends at most 500 positions per call', async () => {
    const { script, events, committer, processed } = setUp();
    for (let i = 0; i < 1201; i += 1) processed(`s${i}`, `${i}-0`);
    await committer.flush();
    expect(script.calls.map((sent) => sent.length)).toEqual([500, 500, 201]);
    expect(script.calls.flat().map((sent) => sent.stream)).toEqual(Array.from({ length: 1201 }, (_, i) => `s${i}`));
    expect(events.committed).toHaveLength(1201);
  });

  it('leaves out streams whose lease ended: their next owner goes on from the last commit', async () => {
    const { script, committer, streams, processed } = setUp();
    processed('a', '1-0');
    processed('b', '2-0');
    streams.lose('a');
    await committer.flush();
    expect(script.calls).toEqual([[{ stream: 'b', id: '2-0', token: 7 }]]);
  });

  it('a position that moved while its commit was under way stays to be committed', async () => {
    const { script, committer, processed } = setUp();
    const work = processed('a', '1-0');
    script.hold = true;
    const flushed = committer.flush();
    await settle();
    processed('a', '2-0');
    script.hold = false;
    script.held[0]!.resolve();
    await flushed;
    expect(work.processed).toBe('2-0');
    await committer.flush();
    expect(script.calls).toEqual([[{ stream: 'a', id: '1-0', token: 7 }], [{ stream: 'a', id: '2-0', token: 7 }]]);
  });
});

describe('Committer: outcomes', () => {
  it("a 'stale' position (a later owner wrote it) is reported through onStale, the others committed", async () => {
    const { script, events, committer, processed } = setUp();
    processed('a', '1-0');
    processed('b', '2-0');
    processed('c', '3-0');
    script.stale.add('b');
    await committer.flush();
    expect(events.stale).toEqual(['b']);
    expect(events.committed).toEqual(['a 1-0', 'c 3-0']);
  });

  it("'lost' (the session is gone): nothing is reported committed or stale, and no further call is made", async () => {
    const { script, events, committer, processed } = setUp();
    for (let i = 0; i < 600; i += 1) processed(`s${i}`, '1-0');
    script.lost = true;
    await committer.flush();
    expect(script.calls.map((sent) => sent.length)).toEqual([500]);
    expect(events.committed).toEqual([]);
    expect(events.stale).toEqual([]);
    expect(events.errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(script.calls).toHaveLength(1);
  });
});

describe('Committer: a failed call', () => {
  it('rejects flush() and keeps the positions for the next commit, which it schedules', async () => {
    const { script, events, committer, processed } = setUp(100);
    processed('a', '1-0');
    processed('b', '2-0');
    script.failing = new Error('LOADING Redis is loading the dataset in memory');
    await expect(committer.flush()).rejects.toThrow(/LOADING/);
    expect(events.committed).toEqual([]);
    script.failing = undefined;
    // Processed meanwhile: the next commit carries the newer position.
    processed('a', '5-0');
    await vi.advanceTimersByTimeAsync(100);
    expect(script.calls).toHaveLength(2);
    expect(script.calls[1]).toEqual([{ stream: 'a', id: '5-0', token: 7 }, { stream: 'b', id: '2-0', token: 7 }]);
    expect(events.committed).toEqual(['a 5-0', 'b 2-0']);
  });

  it('schedules the next commit itself, with nothing processed since', async () => {
    const { script, events, committer, processed } = setUp(250);
    processed('a', '1-0');
    script.failing = new Error('connection lost');
    await expect(committer.flush()).rejects.toThrow('connection lost');
    script.failing = undefined;
    await vi.advanceTimersByTimeAsync(249);
    expect(script.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(script.calls).toHaveLength(2);
    expect(events.committed).toEqual(['a 1-0']);
  });

  it('a commit the timer made that fails is reported through onError and tried again', async () => {
    const { script, events, processed } = setUp(100);
    processed('a', '1-0');
    script.failing = new Error('connection lost');
    await vi.advanceTimersByTimeAsync(100);
    expect(events.errors).toEqual([new Error('connection lost')]);
    script.failing = undefined;
    await vi.advanceTimersByTimeAsync(100);
    expect(events.committed).toEqual(['a 1-0']);
  });

  it('a failed call keeps the positions of every stream, beyond the first 500 too', async () => {
    const { script, events, committer, processed } = setUp(100);
    for (let i = 0; i < 600; i += 1) processed(`s${i}`, '1-0');
    script.failing = new Error('connection lost');
    await expect(committer.flush()).rejects.toThrow('connection lost');
    script.failing = undefined;
    await committer.flush();
    expect(events.committed).toHaveLength(600);
  });
});

describe('Committer: flush()', () => {
  it('runs its calls one after another: a flush waits for the one under way', async () => {
    const { script, committer, processed } = setUp();
    processed('a', '1-0');
    script.hold = true;
    const first = committer.flush();
    await settle();
    processed('b', '2-0');
    const second = committer.flush();
    await settle();
    expect(script.calls).toHaveLength(1);
    expect(await isSettled(second)).toBe(false);
    script.held[0]!.resolve();
    await first;
    await settle();
    expect(script.calls).toHaveLength(2);
    script.held[1]!.resolve();
    await second;
    expect(script.calls).toEqual([[{ stream: 'a', id: '1-0', token: 7 }], [{ stream: 'b', id: '2-0', token: 7 }]]);
  });

  it('a failed flush does not stop the next one', async () => {
    const { script, events, committer, processed } = setUp();
    processed('a', '1-0');
    script.hold = true;
    const first = committer.flush();
    const second = committer.flush();
    await settle();
    script.failing = new Error('boom');
    script.held[0]!.resolve();
    await expect(first).rejects.toThrow('boom');
    await settle();
    // The second call went out after the first failed, with the position the first could not commit.
    expect(script.calls).toHaveLength(2);
    script.failing = undefined;
    script.held[1]!.resolve();
    await second;
    expect(events.committed).toEqual(['a 1-0']);
  });

  it('with nothing processed makes no call', async () => {
    const { script, committer } = setUp();
    await committer.flush();
    expect(script.calls).toEqual([]);
  });
});

describe('Committer: the commit timer', () => {
  it('commits commitIntervalMs after the first position marked, once for all marked meanwhile', async () => {
    const { script, processed } = setUp(100);
    processed('a', '1-0');
    await vi.advanceTimersByTimeAsync(60);
    processed('b', '1-0');
    processed('a', '2-0');
    await vi.advanceTimersByTimeAsync(39);
    expect(script.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(script.calls).toEqual([[{ stream: 'a', id: '2-0', token: 7 }, { stream: 'b', id: '1-0', token: 7 }]]);
  });

  it('fires only when something was marked', async () => {
    const { script, processed } = setUp(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(script.calls).toEqual([]);
    processed('a', '1-0');
    await vi.advanceTimersByTimeAsync(10_000);
    // One commit, then nothing while nothing more is processed.
    expect(script.calls).toHaveLength(1);
    processed('a', '2-0');
    await vi.advanceTimersByTimeAsync(100);
    expect(script.calls).toHaveLength(2);
  });

  it('uses the commitIntervalMs of the stream', async () => {
    const { script, processed } = setUp(1000);
    processed('a', '1-0');
    await vi.advanceTimersByTimeAsync(999);
    expect(script.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(script.calls).toHaveLength(1);
  });

  it('stop() cancels the commit due', async () => {
    const { script, committer, processed } = setUp(100);
    processed('a', '1-0');
    committer.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(script.calls).toEqual([]);
  });
});
