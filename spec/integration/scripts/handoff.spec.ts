import { describe, expect, it } from 'vitest';
import { inboxKey } from '../../../lib/keys.js';
import { accept } from '../../../lib/scripts/accept.js';
import { claim } from '../../../lib/scripts/claim.js';
import { handoff } from '../../../lib/scripts/handoff.js';
import { heartbeat } from '../../../lib/scripts/heartbeat.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

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

function give(giver: string, streams: Array<{ lbsId: string; stream: string }>) {
  return handoff(bench.runner, bench.scope(giver), { nonce: nonces.get(giver)!, database: 0, streams });
}

/** What drain() and close() tell the fleet first: out of the shares. */
async function drains(consumer: string): Promise<void> {
  await bench.command('HSET', bench.keys.members, consumer, JSON.stringify({ weight: 1, auto: true, draining: true }));
}

function acceptAll(receiver: string) {
  return accept(bench.runner, bench.scope(receiver), { nonce: nonces.get(receiver)!, most: 1000 });
}

function beat(consumer: string) {
  return heartbeat(bench.runner, bench.scope(consumer), {
    nonce: nonces.get(consumer)!,
    recheckMs: 10_000,
    sweepLimit: 100,
    announceOn: '',
    database: 0,
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

  it('reports the membership counter and the inbox length', async () => {
    await member('a', 1);
    await bench.command('SET', bench.keys.membership, 7);
    await bench.command('RPUSH', inboxKey(bench.keys, 'a'), 'x', 'y');
    expect(await beat('a')).toMatchObject({ membership: 7, inbox: 2 });
  });
});

describe('handoff.lua', () => {
  it('grants each stream to the consumer furthest below its share, with a new token, and wakes it', async () => {
    const given = await member('a', 4);
    await member('b', 1);
    await member('c', 0);
    await bench.command('SET', bench.keys.membership, 3);
    const subscriber = await bench.connect();
    const woken: string[] = [];
    await subscriber.pSubscribe('__keyspace@0__:*', (message, channel) => woken.push(`${channel} ${message}`));
    const tokenBefore = Number(await bench.redis.get(bench.keys.token) ?? 0);

    const result = await give('a', given.slice(0, 2));

    expect(result).toEqual({ lost: false, room: 1 + 2, outcomes: [{ to: 'c' }, { to: 'b' }] });
    expect(await loads()).toEqual({ a: 2, b: 2, c: 1 });
    expect((await bench.pending('c')).map(({ id }) => id)).toEqual([given[0]!.lbsId]);
    expect((await bench.pending('b')).map(({ id }) => id)).toContain(given[1]!.lbsId);
    const accepted = await acceptAll('c');
    expect(accepted).toEqual({
      lost: false,
      left: 0,
      handed: [{ kind: 'handoff', lbsId: given[0]!.lbsId, stream: given[0]!.stream, raw: expect.stringContaining(given[0]!.stream), token: expect.any(Number), membership: 3 }],
    });
    if (!accepted.lost) expect(accepted.handed[0]!.kind === 'handoff' && accepted.handed[0]!.token).toBeGreaterThan(tokenBefore);
    await bench.command('PUBLISH', 'marker', 'x');
    await expect.poll(() => woken).toEqual(expect.arrayContaining([`__keyspace@0__:${bench.sessionKey('c')} handoff`, `__keyspace@0__:${bench.sessionKey('b')} handoff`]));
    expect((await bench.pending('c'))[0]!.deliveries).toBe(1); // a hand-off is no delivery
  });

  it('keeps, pending under the giver with a new token, what nobody may be handed', async () => {
    const given = await member('a', 2);
    await member('b', 1, { max: 1 });
    const result = await give('a', given.slice(0, 1));
    expect(result).toEqual({ lost: false, room: 0, outcomes: [{ kept: Number(await bench.redis.get(bench.keys.token)) }] });
    expect(await bench.pending('a')).toHaveLength(2);
    expect(await loads()).toEqual({ a: 2, b: 1 });
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
    expect(await give('a', given.slice(0, 1))).toMatchObject({ outcomes: [{ to: 'm' }] });
    const accepted = await acceptAll('m');
    expect(accepted).toMatchObject({ handed: [{ kind: 'offer', lbsId: given[0]!.lbsId, stream: given[0]!.stream, from: 'a' }] });

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

describe('accept.lua', () => {
  it("drops items made for an earlier incarnation or whose entry moved on, and leaves the inbox when the session is gone", async () => {
    const given = await member('a', 2);
    await member('b', 0);
    await drains('a');
    await give('a', given);
    const inbox = inboxKey(bench.keys, 'b');
    expect(await bench.redis.lLen(inbox)).toBe(2);
    await bench.command('XCLAIM', bench.keys.lbs, bench.keys.group, 'a', 0, given[1]!.lbsId, 'JUSTID'); // moved on
    expect(await accept(bench.runner, bench.scope('b'), { nonce: 'stale', most: 10 })).toEqual({ lost: true });
    expect(await bench.redis.lLen(inbox)).toBe(2);

    const accepted = await acceptAll('b');
    expect(accepted).toMatchObject({ left: 0, handed: [{ lbsId: given[0]!.lbsId }] });

    await bench.command('RPUSH', inbox, JSON.stringify({ id: given[0]!.lbsId, stream: given[0]!.stream, nonce: 'earlier', token: '1', epoch: '0' }), 'not json');
    expect(await acceptAll('b')).toEqual({ lost: false, left: 0, handed: [] });
  });

  it('takes at most `most` items per call and says how many are left', async () => {
    const given = await member('a', 3);
    await member('b', 0);
    await drains('a');
    await give('a', given);
    const first = await accept(bench.runner, bench.scope('b'), { nonce: nonces.get('b')!, most: 2 });
    expect(first).toMatchObject({ left: 1, handed: [{}, {}] });
    expect(await acceptAll('b')).toMatchObject({ left: 0, handed: [{ lbsId: given[2]!.lbsId }] });
  });
});
