import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import type { RedisStreamClientEvents, ReleasedStream, StreamLease } from '../../lib/events.js';
import { HandOver } from '../../lib/hand-over.js';
import type { OwnedLease } from '../../lib/leases.js';
import { Notifier } from '../../lib/notifier.js';
import { OwnedStreams } from '../../lib/owned-streams.js';
import { FakeScriptRunner, FakeSession, deferred, isSettled, unitContext } from '../support/unit-fakes.js';

/** handoff.lua's reply: every stream of the call handed to `peer`. */
const toPeer = (args: ReadonlyArray<string | number>, room = 0) => ['ok', room, ['peer'], ...triples(args).map(() => 1)];

/** The (entry id, stream, Info JSON) triples of a handoff.lua call. */
function triples(args: ReadonlyArray<string | number>): Array<[string, string, string]> {
  const result: Array<[string, string, string]> = [];
  for (let i = 7; i < args.length; i += 3) result.push([String(args[i]), String(args[i + 1]), String(args[i + 2])]);
  return result;
}

function setUp(streams = 3) {
  const runner = new FakeScriptRunner();
  const context = unitContext(runner, { releaseTimeoutMs: 700 });
  const session = new FakeSession();
  const emitter = new EventEmitter<RedisStreamClientEvents>();
  const notifier = new Notifier(emitter, context.log);
  const owned = new OwnedStreams(context, session.asSession(), notifier);
  const leases = Array.from({ length: streams }, (_, i) => owned.add({ stream: `s${i}`, lbsId: `${i + 1}-0`, info: { i }, token: 10 + i, origin: 'new' }, false) as OwnedLease);
  const story: string[] = [];
  emitter.on('streamReleased', ({ lease, reason }: ReleasedStream) => story.push(`released ${lease.stream} ${reason} aborted=${lease.signal.aborted}`));
  emitter.on('streamDisowned', (lease: StreamLease) => story.push(`disowned ${lease.stream}`));
  emitter.on('streamAdded', (lease: StreamLease) => story.push(`added ${lease.stream} ${lease.origin} ${lease.token}`));
  const released: Array<{ streams: string[]; timeoutMs: number }> = [];
  /** What happens while the processing is released (a handler finishing its stream, say). */
  const duringRelease = { run: (): void => undefined };
  const handOver = new HandOver(context, session.asSession(), {
    streams: owned,
    notifier,
    release: (given, timeoutMs) => {
      story.push(`release ${given.map((lease) => lease.stream).join(',')} within ${timeoutMs}`);
      released.push({ streams: given.map((lease) => lease.stream), timeoutMs });
      duringRelease.run();
      return Promise.resolve();
    },
    database: () => 3,
  });
  runner.on('handoff', (args) => {
    const streams = triples(args).map(([, stream]) => stream);
    story.push(`handoff ${streams.join(',')} (aborted before: ${leases.filter((lease) => lease.signal.aborted).length})`);
    return toPeer(args, 5);
  });
  return { runner, session, owned, leases, story, handOver, released, duringRelease };
}

describe('HandOver', () => {
  it('releases the processing, ends the leases, then hands over, and announces each stream released', async () => {
    const { handOver, leases, story, owned, runner } = setUp(2);
    expect(await handOver.give(leases, 'rebalance')).toEqual({ handedOver: 2, kept: [] });
    expect(story).toEqual([
      'release s0,s1 within 700',
      'handoff s0,s1 (aborted before: 2)',
      'released s0 rebalance aborted=true',
      'released s1 rebalance aborted=true',
    ]);
    expect(owned.all()).toEqual([]);
    const [call] = runner.callsOf('handoff');
    expect(call!.args[5]).toBe(3); // the database, for the receivers' channel
    expect(call!.args[6]).toBe('keep'); // what nobody may be handed gets a new lease
    expect(triples(call!.args)).toEqual([['1-0', 's0', '{"i":0}'], ['2-0', 's1', '{"i":1}']]); // Info passed on
  });

  it('closing, does not release the processing again (close() drained and committed it already), and leaves what nobody may be handed for the takeover', async () => {
    const { handOver, leases, story, runner, owned } = setUp(2);
    runner.on('handoff', (args) => {
      story.push(`handoff ${triples(args).map(([, stream]) => stream).join(',')} ${args[6]}`);
      return ['ok', 1, ['peer'], 1, -1];
    });
    expect(await handOver.give(leases, 'close')).toEqual({ handedOver: 1, kept: [] });
    expect(story).toEqual(['handoff s0,s1 leave', 'released s0 close aborted=true', 'released s1 close aborted=true']);
    expect(owned.all()).toEqual([]);
  });

  it('sends the streams in order of entry id, at most 1,000 per call, every call at once', async () => {
    const { handOver, leases, runner } = setUp(2500);
    const replies = [deferred<unknown>(), deferred<unknown>(), deferred<unknown>()];
    runner.on('handoff', (args) => replies[runner.callsOf('handoff').length - 1]!.promise.then(() => toPeer(args)));
    const given = handOver.give([...leases].reverse(), 'drain');
    await isSettled(given);
    const calls = runner.callsOf('handoff').map((call) => triples(call.args).map(([id]) => id));
    expect(calls.map((ids) => ids.length)).toEqual([1000, 1000, 500]);
    // Numeric order of ids (1-0, 2-0, ..., 10-0, ...), not the order given, nor the order of strings.
    expect(calls.flat()).toEqual(leases.map((lease) => lease.lbsId));
    for (const reply of replies.reverse()) reply.resolve(undefined);
    expect((await given).handedOver).toBe(2500);
  });

  it('keeps under a new lease what nobody could be handed, and reports a stream it did not own as disowned', async () => {
    const { handOver, leases, story, runner, owned } = setUp(2);
    runner.on('handoff', () => ['ok', 0, [], '99', 0]);
    const result = await handOver.give(leases, 'rebalance');
    expect(result.handedOver).toBe(0);
    expect(result.kept).toMatchObject([{ stream: 's0', token: 99, origin: 'restart' }]);
    expect(story.slice(1)).toEqual(['added s0 restart 99', 'disowned s1']);
    expect(owned.all().map((lease) => lease.stream)).toEqual(['s0']);
    expect(leases[0]!.signal.aborted).toBe(true); // the old lease ended; the kept one is new
  });

  it('reports every stream disowned when the session is gone', async () => {
    const { handOver, leases, story, runner, session } = setUp(300);
    runner.on('handoff', () => ['lost']);
    expect(await handOver.give(leases, 'drain')).toEqual({ handedOver: 0, kept: [] });
    expect(story.filter((line) => line.startsWith('disowned'))).toHaveLength(300);
    expect(session.heartbeatsAsked).toBeGreaterThan(0);
  });

  it("rejects with the error of a call that failed, having announced every stream it gave up as released, the failed call's too (it may have run)", async () => {
    const { handOver, leases, story, runner, owned } = setUp(1200);
    runner.on('handoff', (args) => {
      if (runner.callsOf('handoff').length === 2) throw new Error('ECONNRESET');
      return toPeer(args);
    });
    await expect(handOver.give(leases, 'drain')).rejects.toThrow('ECONNRESET');
    expect(story.filter((line) => line.startsWith('released'))).toHaveLength(1200);
    expect(owned.all()).toEqual([]);
  });

  it('announces a stream kept for an incarnation that ended meanwhile as disowned: its lease is gone, the next incarnation takes it back', async () => {
    const { handOver, leases, story, runner, owned, session } = setUp(1);
    runner.on('handoff', () => {
      session.renew();
      return ['ok', 0, [], '99'];
    });
    expect(await handOver.give(leases, 'rebalance')).toEqual({ handedOver: 0, kept: [] });
    expect(story.slice(1)).toEqual(['disowned s0']);
    expect(owned.all()).toEqual([]);
  });

  it('gives nothing while the session is not valid, and nothing it no longer holds', async () => {
    const { handOver, leases, runner, session } = setUp(2);
    session.valid = false;
    expect(await handOver.give(leases, 'rebalance')).toEqual({ handedOver: 0, kept: [] });
    session.valid = true;
    leases[0]!.end(new Error('lost'));
    await handOver.give(leases, 'rebalance');
    expect(runner.callsOf('handoff').map((call) => triples(call.args).map(([id, stream]) => [id, stream]))).toEqual([[['2-0', 's1']]]);
  });

  it('hands over nothing that ended while its handlers were waited for (finished, or lost)', async () => {
    const { handOver, leases, runner, story, duringRelease } = setUp(2);
    duringRelease.run = () => leases[0]!.end(new Error('finished'));
    expect(await handOver.give(leases, 'rebalance')).toEqual({ handedOver: 1, kept: [] });
    expect(runner.callsOf('handoff').map((call) => triples(call.args).map(([, stream]) => stream))).toEqual([['s1']]);
    expect(story.filter((line) => line.startsWith('disowned'))).toEqual([]);
  });

  it('runs hand-offs one at a time', async () => {
    const { handOver, leases, runner } = setUp(2);
    const first = deferred<unknown>();
    runner.on('handoff', (args) => (triples(args)[0]?.[1] === 's0' ? first.promise : toPeer(args)));
    const one = handOver.give([leases[0]!], 'rebalance');
    const two = handOver.give([leases[1]!], 'rebalance');
    await isSettled(one);
    expect(runner.callsOf('handoff')).toHaveLength(1);
    first.resolve(['ok', 1, ['peer'], 1]);
    await Promise.all([one, two]);
    expect(runner.callsOf('handoff')).toHaveLength(2);
  });

  it('tells the room the others have, asking with no streams', async () => {
    const { handOver, runner, session } = setUp(0);
    runner.on('handoff', () => ['ok', 42, []]);
    expect(await handOver.room()).toBe(42);
    expect(runner.callsOf('handoff')[0]!.args).toHaveLength(7);
    session.valid = false;
    expect(await handOver.room()).toBe(0);
  });
});
