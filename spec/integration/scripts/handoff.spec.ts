import { describe, expect, it } from 'vitest';
import { claim } from '../../../lib/scripts/claim.js';
import { decodeHandoff, handoff, type HandoffMessage, type Unhanded } from '../../../lib/scripts/handoff.js';
import { heartbeat } from '../../../lib/scripts/heartbeat.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';
import { waitFor } from '../../support/wait.js';

let bench: ScriptBench;
const nonces = new Map<string, string>();

useScriptBench(async (opened) => {
  bench = opened;
  nonces.clear();
});

/** A live consumer known to the fleet (a member record, as register.lua writes it), owning `load` new streams. */
async function member(id: string, load: number, record: { weight?: number; max?: number; auto?: boolean; draining?: boolean } = {}) {
  nonces.set(id, await bench.startSession(id));
  await bench.command('HSET', bench.keys.members, id, JSON.stringify({ weight: 1, auto: true, draining: false, ...record }));
  await bench.command('HSET', bench.keys.loads, id, 0);
  const ids = await bench.own(id, ...Array.from({ length: load }, (_, i) => `${id}-s${i}`));
  return ids.map((lbsId, i) => ({ lbsId, stream: `${id}-s${i}` }));
}

function give(giver: string, streams: Array<{ lbsId: string; stream: string }>, unhanded: Unhanded = 'keep') {
  return handoff(bench.runner, bench.scope(giver), { nonce: nonces.get(giver)!, database: 0, unhanded, streams: streams.map((s) => ({ ...s, info: '{"n":1}' })) });
}

/** The hand-off messages published on the consumers' session key channels, decoded. `settled()` returns all of them up
 * to now: a marker published after the calls arrives after whatever they published. */
async function listen() {
  const subscriber = await bench.connect();
  const heard: Array<{ to: string; message: HandoffMessage | undefined }> = [];
  const prefix = `__keyspace@0__:${bench.keys.sessionPrefix}`;
  await subscriber.pSubscribe(`${prefix}*`, (raw, channel) => heard.push({ to: channel.slice(prefix.length), message: decodeHandoff(raw) }));
  return {
    async settled() {
      await bench.command('PUBLISH', `${prefix}marker`, 'marker');
      await waitFor(() => heard.some(({ to }) => to === 'marker'));
      return heard.filter(({ message }) => message);
    },
  };
}

/** What drain() and close() tell the fleet first: out of the shares. */
async function drains(consumer: string): Promise<void> {
  await bench.command('HSET', bench.keys.members, consumer, JSON.stringify({ weight: 1, auto: true, draining: true }));
}

function beat(consumer: string, sharesSeenAt?: number) {
  return heartbeat(bench.runner, bench.scope(consumer), {
    nonce: nonces.get(consumer)!,
    recheckMs: 10_000,
    sweepLimit: 100,
    announceOn: '',
    database: 0,
    sharesSeenAt,
  });
}

async function loads(): Promise<Record<string, number>> {
  return Object.fromEntries(Object.entries(await bench.hash(bench.keys.loads)).map(([id, load]) => [id, Number(load)]));
}

describe('heartbeat.lua: what to give away', () => {
  it('gives nothing within the tolerance: a 9/10/11 split does not move', async () => {
    await member('a', 9);
    await member('b', 10);
    await member('c', 11);
    for (const consumer of ['a', 'b', 'c']) expect((await beat(consumer)).excess).toBe(0);
  });

  it('gives down to the fair share (rounded up) beyond the tolerance, at most what the others may be handed', async () => {
    await member('a', 15);
    await member('b', 12);
    await member('c', 12);
    // 39 streams, 13 each (tolerance 1.3): a gives 15 - 13 = 2, and b and c may be handed 1 each.
    expect((await beat('a')).excess).toBe(2);
    expect((await beat('b')).excess).toBe(0);
    expect((await beat('c')).excess).toBe(0);
  });

  it('gives down to the fair share rounded down, within the tolerance too, while another is short beyond it', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await member(id, 11);
    await member('joiner', 0);
    // 55 streams, 9.2 each (tolerance 1): 11 is within the tolerance, but the joiner is short: each gives 11 - 9.
    expect((await beat('a')).excess).toBe(2);
    expect((await beat('joiner')).excess).toBe(0);
  });

  it('shares by weight and within maxStreams', async () => {
    await member('a', 60);
    await member('b', 0, { weight: 2 });
    await member('c', 0, { max: 5 });
    // 60 streams: c holds 5 at most, a and b share 55 as 1:2 (18.3 and 36.7); b is short.
    expect((await beat('a')).excess).toBe(60 - 18);
  });

  it('gives everything while draining, at most what the others may be handed', async () => {
    await member('a', 8, { draining: true });
    await member('b', 0, { max: 5 });
    expect((await beat('a')).excess).toBe(5);
  });

  it('gives nothing while a consumer whose session is gone still owns streams (a takeover is due)', async () => {
    await member('a', 20);
    await member('b', 0);
    await member('dead', 5);
    await bench.command('DEL', bench.sessionKey('dead'));
    expect((await beat('a')).excess).toBe(0);
  });

  it('reports the membership counter, and computes the excess again only when asked or when it changed', async () => {
    await member('a', 20);
    await member('b', 0);
    await bench.command('SET', bench.keys.membership, 7);
    expect(await beat('a')).toMatchObject({ membership: 7, excess: 10 });
    expect(await beat('a', 7)).toMatchObject({ membership: 7, excess: undefined });
    await bench.command('INCR', bench.keys.membership);
    expect(await beat('a', 7)).toMatchObject({ membership: 8, excess: 10 });
  });
});

describe('handoff.lua', () => {
  it('grants each stream to the consumer furthest below its share, with a new token, told in one message each', async () => {
    const given = await member('a', 4);
    await member('b', 1);
    await member('c', 0);
    await bench.command('SET', bench.keys.membership, 3);
    const messages = await listen();
    const tokenBefore = Number((await bench.redis.get(bench.keys.token)) ?? 0);

    const result = await give('a', given.slice(0, 3));

    // 5 streams, 1.7 each: c may be handed 2, b 1; each goes to the one furthest below its share.
    expect(result).toEqual({ lost: false, room: 2 + 1, outcomes: [{ to: 'c' }, { to: 'b' }, { to: 'c' }] });
    expect(await loads()).toEqual({ a: 1, b: 2, c: 2 });
    expect((await bench.pending('c')).map(({ id }) => id)).toEqual([given[0]!.lbsId, given[2]!.lbsId]);
    expect((await bench.pending('c'))[0]!.deliveries).toBe(1); // a hand-off is no delivery
    const heard = await messages.settled();
    expect(heard.map(({ to }) => to).sort()).toEqual(['b', 'c']);
    const toC = heard.find(({ to }) => to === 'c')!.message!;
    expect(toC).toEqual({
      nonce: nonces.get('c'),
      membership: 3,
      giver: 'a',
      streams: [
        { lbsId: given[0]!.lbsId, stream: given[0]!.stream, token: expect.any(Number), info: '{"n":1}' },
        { lbsId: given[2]!.lbsId, stream: given[2]!.stream, token: expect.any(Number), info: '{"n":1}' },
      ],
    });
    expect(toC.streams[0]!.token).toBeGreaterThan(tokenBefore);
    expect(toC.streams[1]!.token).toBeGreaterThan(toC.streams[0]!.token!);
  });

  it('keeps, pending under the giver with a new token, what nobody may be handed', async () => {
    const given = await member('a', 2);
    await member('b', 1, { max: 1 });
    const result = await give('a', given.slice(0, 1));
    expect(result).toEqual({ lost: false, room: 0, outcomes: [{ kept: Number(await bench.redis.get(bench.keys.token)) }] });
    expect(await bench.pending('a')).toHaveLength(2);
    expect(await loads()).toEqual({ a: 2, b: 1 });
  });

  it('leaves what nobody may be handed as it is when asked to (close(): the takeover follows)', async () => {
    const given = await member('a', 3);
    await member('b', 1, { max: 2 });
    await bench.command('SET', bench.keys.token, 100);
    expect(await give('a', given, 'leave')).toEqual({ lost: false, room: 1, outcomes: [{ to: 'b' }, 'left', 'left'] });
    expect((await bench.pending('a')).map(({ id }) => id)).toEqual([given[1]!.lbsId, given[2]!.lbsId]);
    expect(await loads()).toEqual({ a: 2, b: 2 });
    // Nothing was granted for the streams left; with no room at all, nothing is even looked at.
    expect(await bench.redis.get(bench.keys.token)).toBe('101');
    expect(await give('a', given.slice(1), 'leave')).toEqual({ lost: false, room: 0, outcomes: ['left', 'left'] });
  });

  it('checks every entry, in any order and among other entries pending under the giver', async () => {
    const given = await member('a', 10);
    const theirs = await member('b', 1, { draining: true });
    await member('c', 0);
    await drains('a');
    const ids = (consumer: string) => bench.pending(consumer).then((pending) => pending.map(({ id }) => id).sort());
    // Out of order, an entry of another consumer in between, and a range of a's entries wider than the batch.
    const batch = [given[7]!, given[2]!, theirs[0]!, given[9]!, given[0]!];
    expect(await give('a', batch)).toMatchObject({ outcomes: [{ to: 'c' }, { to: 'c' }, 'not-owner', { to: 'c' }, { to: 'c' }] });
    expect(await ids('c')).toEqual([given[0]!, given[2]!, given[7]!, given[9]!].map(({ lbsId }) => lbsId).sort());
    expect(await ids('b')).toEqual([theirs[0]!.lbsId]);
    // In order, with a's other entries inside the range.
    expect(await give('a', [given[1]!, given[8]!])).toMatchObject({ outcomes: [{ to: 'c' }, { to: 'c' }] });
    expect(await ids('a')).toEqual([3, 4, 5, 6].map((i) => given[i]!.lbsId).sort());
  });

  it('lets a draining giver (drain(), close()) give everything: it is out of the shares', async () => {
    const given = await member('a', 3);
    await member('b', 3);
    // b is at its share (3) already; with a out of the shares, its share is all 6.
    expect(await give('a', [])).toMatchObject({ room: 0 });
    await drains('a');
    expect(await give('a', [])).toMatchObject({ room: 3 });
    expect(await give('a', given)).toMatchObject({ outcomes: [{ to: 'b' }, { to: 'b' }, { to: 'b' }] });
  });

  it("refuses a stream not pending under the giver or not named by its entry, and everything once the giver's session is gone", async () => {
    const given = await member('a', 1);
    const theirs = await member('b', 1);
    await member('c', 0);
    expect(await give('a', [theirs[0]!, { ...given[0]!, stream: 'another' }])).toMatchObject({ outcomes: ['not-owner', 'not-owner'] });
    nonces.set('a', 'stale');
    expect(await give('a', given)).toEqual({ lost: true });
    expect(await bench.pending('a')).toHaveLength(1);
  });

  it('offers to a manual-mode receiver: claimed from the live giver with a new token, without being read back', async () => {
    const given = await member('a', 2);
    await member('m', 0, { auto: false });
    const messages = await listen();
    expect(await give('a', given.slice(0, 1))).toMatchObject({ outcomes: [{ to: 'm' }] });
    const [heard] = await messages.settled();
    expect(heard!.message).toMatchObject({ giver: 'a', streams: [{ lbsId: given[0]!.lbsId, stream: given[0]!.stream, token: undefined }] });
    expect(await bench.hash(bench.keys.offers)).toEqual({ [given[0]!.lbsId]: 'a' });

    const claimAs = (claimer: string, stream: string) =>
      claim(bench.runner, bench.scope(claimer), { nonce: nonces.get(claimer)!, previousOwner: 'a', entries: [{ lbsId: given[0]!.lbsId, stream, known: true }] });
    await member('thief', 0);
    expect(await claimAs('thief', given[0]!.stream)).toEqual({ status: 'ok', outcomes: ['taken'] });
    expect(await claimAs('m', 'another')).toEqual({ status: 'ok', outcomes: ['mismatch'] });
    expect(await claimAs('m', given[0]!.stream)).toEqual({
      status: 'ok',
      outcomes: [{ token: expect.any(Number), stream: given[0]!.stream, raw: '', origin: 'handoff' }],
    });
    expect(await bench.hash(bench.keys.offers)).toEqual({});
    // A stream of the live giver that was not offered stays its own.
    expect(
      await claim(bench.runner, bench.scope('m'), { nonce: nonces.get('m')!, previousOwner: 'a', entries: [{ lbsId: given[1]!.lbsId, stream: given[1]!.stream, known: false }] }),
    ).toEqual({ status: 'ok', outcomes: ['owner-alive'] });
  });
});

describe('decodeHandoff', () => {
  it('decodes only well formed hand-off messages: other keyspace events and forged text are nothing', () => {
    expect(decodeHandoff('expired')).toBeUndefined();
    expect(decodeHandoff('handoff')).toBeUndefined();
    expect(decodeHandoff('handoff:{')).toBeUndefined();
    expect(decodeHandoff('handoff:{"n":"x","m":"1","g":"a","s":[["1-0","s","not a number","{}"]]}')).toBeUndefined();
    expect(decodeHandoff('handoff:{"n":"x","m":"1","g":"a","s":[["1-0","s","",{}]]}')).toBeUndefined();
    expect(decodeHandoff('handoff:{"n":"x","m":"1","g":"a","s":[["1-0","s","12","{}"]]}')).toEqual({
      nonce: 'x',
      membership: 1,
      giver: 'a',
      streams: [{ lbsId: '1-0', stream: 's', token: 12, info: '{}' }],
    });
  });
});
