import { describe, expect, it } from 'vitest';
import { finish } from '../../../lib/scripts/finish.js';
import { take, type TakeRequest } from '../../../lib/scripts/take.js';
import { failOnDecodeError, ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
});

function takeFor(request: Partial<TakeRequest> = {}) {
  const defaults: TakeRequest = { nonce, capacity: 10, force: false, adopt: '' };
  return take(bench.runner, bench.scope(ME, { maxEntryBytes: 1024 }), { ...defaults, ...request }, failOnDecodeError);
}

/** A live peer that owns `load` streams, with a member record when given; returns its session's nonce. */
async function peer(load: number, member?: Record<string, unknown>): Promise<string> {
  const peerNonce = await bench.startSession('peer');
  await bench.command('HSET', bench.keys.loads, 'peer', load);
  if (member) await bench.command('HSET', bench.keys.members, 'peer', JSON.stringify(member));
  return peerNonce;
}

async function addMany(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await bench.add(`s${i}`);
}

describe('take.lua', () => {
  it('grants entries: pending under this consumer, recorded in owners and loads, with increasing tokens', async () => {
    const a = await bench.add('a', { region: 'eu' });
    const b = await bench.add('b');

    const before = await bench.now();
    const { status, outcomes } = await takeFor();

    expect(status).toBe('empty');
    expect(outcomes).toEqual([
      { kind: 'granted', lbsId: a, stream: 'a', info: { region: 'eu' }, token: expect.any(Number) },
      { kind: 'granted', lbsId: b, stream: 'b', info: {}, token: expect.any(Number) },
    ]);
    const [first, second] = outcomes.map((outcome) => (outcome.kind === 'granted' ? outcome.token : 0));
    expect(first).toBeGreaterThan(before * 1000); // a missing counter starts from the server clock in microseconds
    expect(second).toBe(first! + 1);
    expect(await bench.redis.get(bench.keys.token)).toBe(String(second));
    expect(await bench.pending()).toEqual([
      { id: a, consumer: ME, deliveries: 1 },
      { id: b, consumer: ME, deliveries: 1 },
    ]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ a, b });
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '2' });
  });

  it('continues an existing token counter, and says more when it took as many as it could', async () => {
    await bench.redis.set(bench.keys.token, '41');
    await bench.add('a');
    await bench.add('b');
    const { status, outcomes } = await takeFor({ capacity: 1 });
    expect(status).toBe('more');
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'granted', stream: 'a', token: 42 })]);
  });

  it('dead-letters a malformed entry with the reason, acknowledged, deleted and not counted', async () => {
    const id = await bench.addFields('lbs-input', '{"DataStreamName": 7}');
    const { outcomes } = await takeFor();
    expect(outcomes).toEqual([{ kind: 'dead', lbsId: id, reason: 'DataStreamName is missing or not a non-empty string' }]);
    expect(await bench.deadLetters()).toEqual([
      { reason: 'DataStreamName is missing or not a non-empty string', 'lbs-id': id, 'lbs-input': '{"DataStreamName": 7}' },
    ]);
    expect(await bench.lbsIds()).toEqual([]);
    expect(await bench.pending()).toEqual([]);
    expect(await bench.hash(bench.keys.loads)).toEqual({});
  });

  it('drops an entry naming a stream already owned through another pending entry', async () => {
    await bench.startSession('peer');
    const [held] = await bench.own('peer', 'a');
    const again = await bench.add('a');

    expect((await takeFor()).outcomes).toEqual([{ kind: 'duplicate', lbsId: again, stream: 'a' }]);
    expect(await bench.lbsIds()).toEqual([held]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ a: held });
    expect(await bench.hash(bench.keys.loads)).toEqual({ peer: '1' });
  });

  it('grants a name again once the entry recorded for it is no longer pending (finished)', async () => {
    const [finished] = await bench.own('peer', 'a');
    await bench.command('XACK', bench.keys.lbs, bench.keys.group, finished!);
    const again = await bench.add('a');
    expect((await takeFor()).outcomes).toEqual([expect.objectContaining({ kind: 'granted', lbsId: again, stream: 'a' })]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ a: again });
  });

  describe('fair share (shares.lua, counting the entries about to be taken)', () => {
    it('holds, reading nothing, while above the fair share plus the tolerance', async () => {
      await peer(0);
      await bench.command('HSET', bench.keys.loads, ME, 12); // share (12 + 10) / 2 = 11, tolerance max(1, 1.1): 12 at most
      const id = await bench.add('a');

      expect(await takeFor()).toEqual({ status: 'hold', progress: '0-0', outcomes: [] });
      expect(await bench.pending()).toEqual([]);
      expect(await bench.lbsIds()).toEqual([id]);
    });

    it("says, when it holds, how far the group has been read: moved by a peer's take or blocking read, and only by those", async () => {
      const peerNonce = await peer(0);
      const takeAsPeer = () => take(bench.runner, bench.scope('peer'), { nonce: peerNonce, capacity: 1, force: false, adopt: '' }, failOnDecodeError);
      await bench.command('HSET', bench.keys.loads, ME, 50); // far above its share, whatever the peer takes here
      const [a, b, c] = [await bench.add('a'), await bench.add('b'), await bench.add('c')];
      const progress = async () => {
        const result = await takeFor();
        return result.status === 'hold' ? result.progress : `not held back: ${result.status}`;
      };
      expect(await progress()).toBe('0-0');

      await bench.deliver('peer'); // a blocking read
      expect(await progress()).toBe(a);
      expect((await takeAsPeer()).outcomes).toEqual([expect.objectContaining({ kind: 'granted', lbsId: b })]);
      expect(await progress()).toBe(b);

      // Finishing a stream, and moving one to another owner, deliver nothing new.
      expect(await finish(bench.runner, bench.scope('peer'), { nonce: peerNonce, streams: [{ lbsId: b!, stream: 'b' }] })).toEqual({
        lost: false,
        outcomes: ['done'],
      });
      await bench.command('XCLAIM', bench.keys.lbs, bench.keys.group, ME, 0, a!, 'JUSTID');
      expect(await progress()).toBe(b);
      expect(await bench.lbsIds()).toEqual([a, c]);
    });

    it("says '' when it holds without the LBS; a forced take then finds no group (NOGROUP: the reader creates it)", async () => {
      await peer(0);
      await bench.command('HSET', bench.keys.loads, ME, 12);
      await bench.command('DEL', bench.keys.lbs);
      expect(await takeFor()).toEqual({ status: 'hold', progress: '', outcomes: [] });
      await expect(takeFor({ force: true })).rejects.toThrow(/^NOGROUP/);
    });

    it('takes only up to the fair share plus the tolerance', async () => {
      await peer(100);
      await bench.command('HSET', bench.keys.loads, ME, 118); // share 114, tolerance 11.4: 125 at most
      await addMany(10);
      const { status, outcomes } = await takeFor();
      expect(status).toBe('more');
      expect(outcomes).toHaveLength(7);
    });

    it('counts among the streams shared only the entries there are to take, not all it asks for', async () => {
      await peer(40);
      await bench.command('HSET', bench.keys.loads, ME, 50);
      await addMany(5); // share (90 + 5) / 2 = 47.5, tolerance 4.75: 52 at most (asking for 100 would count 95: 104)
      const first = await takeFor({ capacity: 100 });
      expect([first.status, first.outcomes.length]).toEqual(['more', 2]);
      expect(await takeFor({ capacity: 100 })).toEqual({ status: 'hold', progress: expect.any(String), outcomes: [] });
    });

    it('says empty, reading nothing, when no entry waits to be delivered, whatever its share', async () => {
      await peer(0);
      await bench.command('HSET', bench.keys.loads, ME, 12);
      expect(await takeFor()).toEqual({ status: 'empty', outcomes: [] });
      // An entry a blocking read delivered (pending, not yet admitted) is no longer waiting either.
      await bench.add('a');
      await bench.deliver('peer');
      expect(await takeFor()).toEqual({ status: 'empty', outcomes: [] });
    });

    it('shares by weight', async () => {
      await peer(30, { weight: 3, auto: true, draining: false });
      await bench.command('HSET', bench.keys.loads, ME, 10); // share (40 + 10) / 4 = 12.5, tolerance 1.25: 13 at most
      await addMany(10);
      expect((await takeFor()).outcomes).toHaveLength(3);
    });

    it("leaves out of the shares what a peer's maxStreams keeps it from holding", async () => {
      await peer(5, { weight: 1, max: 5, auto: true, draining: false });
      await bench.command('HSET', bench.keys.loads, ME, 50); // 65 streams, the peer holds 5 at most: the rest is mine
      await addMany(10);
      expect((await takeFor()).outcomes).toHaveLength(10);
    });

    it('takes nothing while draining', async () => {
      await bench.command('HSET', bench.keys.members, ME, JSON.stringify({ weight: 1, auto: true, draining: true }));
      await bench.add('a');
      expect((await takeFor()).status).toBe('hold');
    });

    it("takes anyway when forced, or once the peer's session is gone", async () => {
      await peer(0);
      await bench.command('HSET', bench.keys.loads, ME, 12);
      await bench.add('a');
      expect((await takeFor()).status).toBe('hold');
      expect((await takeFor({ force: true })).outcomes).toHaveLength(1);

      await bench.command('DEL', bench.sessionKey('peer'));
      await bench.add('b');
      expect((await takeFor()).outcomes).toHaveLength(1);
    });
  });

  describe('adopting an entry a blocking read delivered', () => {
    it('admits it first, counting it against the capacity', async () => {
      await bench.add('a');
      const [delivered] = await bench.deliver(ME);
      await bench.add('b');

      const { outcomes } = await takeFor({ capacity: 1, adopt: delivered! });

      expect(outcomes).toEqual([expect.objectContaining({ kind: 'granted', lbsId: delivered, stream: 'a' })]);
      expect(await bench.pending(ME)).toHaveLength(1); // b was not read
      expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
      expect(await bench.hash(bench.keys.owners)).toEqual({ a: delivered });
    });

    it('counts an entry once in loads when a take whose reply was lost is sent again with the same id', async () => {
      await bench.add('a');
      const [delivered] = await bench.deliver(ME);
      await takeFor({ capacity: 0, adopt: delivered! }); // admitted; the reader never saw the reply and retries
      const { outcomes } = await takeFor({ capacity: 0, adopt: delivered! });
      expect(outcomes).toEqual([expect.objectContaining({ kind: 'granted', lbsId: delivered })]);
      expect(await bench.pending(ME)).toHaveLength(1);
      expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
    });

    it('ignores an id not pending under this consumer, and acknowledges one deleted from the LBS', async () => {
      await bench.startSession('peer');
      const [theirs] = await bench.own('peer', 'a');
      expect((await takeFor({ capacity: 0, adopt: theirs! })).outcomes).toEqual([]);
      expect(await bench.pending('peer')).toHaveLength(1);

      await bench.add('b');
      const [deleted] = await bench.deliver(ME);
      await bench.command('XDEL', bench.keys.lbs, deleted!);
      expect((await takeFor({ capacity: 0, adopt: deleted! })).outcomes).toEqual([]);
      expect(await bench.pending(ME)).toEqual([]);
    });
  });

  it('returns lost, reading nothing, when the session holds another nonce', async () => {
    await bench.add('a');
    expect(await takeFor({ nonce: 'stale' })).toEqual({ status: 'lost', outcomes: [] });
    expect(await bench.pending()).toEqual([]);
  });
});
