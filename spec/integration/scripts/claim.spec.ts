import { describe, expect, it } from 'vitest';
import { claim, type ClaimEntry } from '../../../lib/scripts/claim.js';
import { ScriptRunner } from '../../../lib/scripts/runner.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';
const OWNER = 'owner';
const MAX_DELIVERIES = 3;

let bench: ScriptBench;
let nonce: string;
let now: number;

useScriptBench(async (opened) => {
  bench = opened;
  now = await bench.now();
  nonce = await bench.startSession(ME, { startedAt: now - 60_000 });
});

/** The previous owner held these streams and its session ended a moment ago, while this consumer's lived on: it
 * failed alone, so a claim counts a delivery. */
async function ownerDiedHolding(...streams: string[]): Promise<string[]> {
  await bench.startSession(OWNER, { startedAt: now - 30_000 });
  const ids = await bench.own(OWNER, ...streams);
  await bench.endSession(OWNER, { at: now - 1000 });
  return ids;
}

function claimFor(entries: ClaimEntry[], { asNonce = nonce, runner = bench.runner, consumerId = ME } = {}) {
  return claim(runner, bench.scope(consumerId, { maxDeliveries: MAX_DELIVERIES }), { nonce: asNonce, previousOwner: OWNER, entries });
}

const entry = (lbsId: string, stream = '', known = false): ClaimEntry => ({ lbsId, stream, known });
const granted = (stream: string, raw: string = expect.stringContaining(stream)) => ({ token: expect.any(Number), stream, raw, origin: 'takeover' });

describe('claim.lua', () => {
  it('moves entries to the claimer with increasing tokens, counting a delivery when the owner failed alone', async () => {
    const [a, b] = await ownerDiedHolding('a', 'b');

    const result = await claimFor([entry(a!, 'a'), entry(b!)]); // '': whatever stream the entry names

    expect(result).toEqual({ status: 'ok', outcomes: [granted('a', JSON.stringify({ DataStreamName: 'a', Info: {} })), granted('b')] });
    const [first, second] = result.status === 'ok' ? result.outcomes.map((outcome) => (typeof outcome === 'string' ? 0 : outcome.token)) : [];
    expect(second).toBe(first! + 1);
    expect(await bench.pending()).toEqual([
      { id: a, consumer: ME, deliveries: 2 },
      { id: b, consumer: ME, deliveries: 2 },
    ]);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [OWNER]: '0', [ME]: '2' });
    expect(await bench.hash(bench.keys.owners)).toEqual({ a, b });
  });

  it('has exactly one winner among concurrent claimers', async () => {
    const [a] = await ownerDiedHolding('a');
    const claimers = await Promise.all(
      ['c1', 'c2', 'c3', 'c4'].map(async (id) => ({ id, nonce: await bench.startSession(id), runner: new ScriptRunner(await bench.connect()) })),
    );
    const results = await Promise.all(claimers.map((c) => claimFor([entry(a!, 'a')], { asNonce: c.nonce, runner: c.runner, consumerId: c.id })));
    const outcomes = results.map((result) => (result.status === 'ok' ? result.outcomes[0] : result.status));
    expect(outcomes.filter((outcome) => typeof outcome === 'object')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome === 'taken')).toHaveLength(3);
    expect(await bench.pending()).toHaveLength(1);
  });

  it('refuses while the previous owner is alive, and when the claimer has lost its session', async () => {
    await bench.startSession(OWNER);
    const [a] = await bench.own(OWNER, 'a');
    expect(await claimFor([entry(a!, 'a')])).toEqual({ status: 'ok', outcomes: ['owner-alive'] });

    await bench.endSession(OWNER);
    expect(await claimFor([entry(a!, 'a')], { asNonce: 'stale' })).toEqual({ status: 'lost' });
    expect(await bench.pending(OWNER)).toHaveLength(1);
  });

  it('refuses alone as taken an entry no longer pending under the owner, deleted from the LBS, or forged', async () => {
    const [claimed, finished, deleted, kept] = await ownerDiedHolding('claimed', 'finished', 'deleted', 'kept');
    await bench.setDeliveries(claimed!, ME, 1);
    await bench.command('XACK', bench.keys.lbs, bench.keys.group, finished!);
    await bench.command('XDEL', bench.keys.lbs, deleted!);

    const result = await claimFor([
      entry(claimed!, 'claimed'),
      entry(finished!, 'finished'),
      entry(deleted!, 'deleted'),
      entry('99999999999999999999999-0', 'forged'),
      entry(kept!, 'kept'),
    ]);

    expect(result).toEqual({ status: 'ok', outcomes: ['taken', 'taken', 'taken', 'taken', granted('kept')] });
    expect(await bench.pending(OWNER)).toEqual([]); // the deleted entry was acknowledged
    // The owner holds none of them now: `kept` moved, `deleted` is gone (`claimed` and `finished` were never its).
    expect(await bench.hash(bench.keys.loads)).toMatchObject({ [ME]: '1' });
  });

  it('refuses an entry that names another stream, leaving it with the owner', async () => {
    const [a] = await ownerDiedHolding('a');
    expect(await claimFor([entry(a!, 'b')])).toEqual({ status: 'ok', outcomes: ['mismatch'] });
    expect(await bench.pending(OWNER)).toHaveLength(1);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [OWNER]: '1' });
  });

  it('drops an entry whose stream is held through another pending entry', async () => {
    await bench.startSession('keeper');
    const [held] = await bench.own('keeper', 'a');
    const [second] = await ownerDiedHolding('a');
    await bench.command('HSET', bench.keys.owners, 'a', held!); // own() recorded the second entry

    expect(await claimFor([entry(second!)])).toEqual({ status: 'ok', outcomes: ['duplicate'] });
    expect(await bench.lbsIds()).toEqual([held]);
    expect(await bench.hash(bench.keys.loads)).toEqual({ keeper: '1', [OWNER]: '0' });
  });

  it('dead-letters a malformed entry', async () => {
    await ownerDiedHolding();
    const id = await bench.addFields('lbs-input', 'not json');
    await bench.deliver(OWNER);
    expect(await claimFor([entry(id)])).toEqual({ status: 'ok', outcomes: ['malformed'] });
    expect(await bench.deadLetters()).toEqual([expect.objectContaining({ 'lbs-id': id, 'lbs-input': 'not json' })]);
    expect(await bench.pending()).toEqual([]);
  });

  describe('poison: maxDeliveries reached', () => {
    it('dead-letters the entry when the owner failed alone', async () => {
      const [a] = await ownerDiedHolding('a');
      await bench.setDeliveries(a!, OWNER, MAX_DELIVERIES);
      expect(await claimFor([entry(a!, 'a', true)])).toEqual({ status: 'ok', outcomes: ['poison'] });
      const reason = `its owners died ${MAX_DELIVERIES} times (maxDeliveries ${MAX_DELIVERIES})`;
      expect(await bench.deadLetters()).toEqual([expect.objectContaining({ reason, 'lbs-id': a })]);
      expect(await bench.hash(bench.keys.owners)).toEqual({});
      expect(await bench.hash(bench.keys.loads)).toEqual({ [OWNER]: '0' });
    });

    it('grants it without counting when the owner handed it over with close()', async () => {
      const [a] = await ownerDiedHolding('a');
      await bench.setDeliveries(a!, OWNER, MAX_DELIVERIES);
      await bench.command('SADD', bench.keys.released, OWNER);
      expect(await claimFor([entry(a!, 'a')])).toEqual({ status: 'ok', outcomes: [granted('a')] });
      expect(await bench.pending(ME)).toEqual([{ id: a, consumer: ME, deliveries: MAX_DELIVERIES }]);
    });

    it('grants it without counting when every session ended at once (the claimer registered after that end)', async () => {
      const [a] = await ownerDiedHolding('a');
      await bench.setDeliveries(a!, OWNER, MAX_DELIVERIES);
      nonce = await bench.startSession(ME, { startedAt: now - 500 });
      expect(await claimFor([entry(a!, 'a')])).toEqual({ status: 'ok', outcomes: [granted('a')] });
      expect(await bench.pending(ME)).toEqual([{ id: a, consumer: ME, deliveries: MAX_DELIVERIES }]);
    });
  });

  describe('known entries (reported by this consumer)', () => {
    it('are granted without being read back when owners maps the stream to this entry', async () => {
      const [a] = await ownerDiedHolding('a');
      expect(await claimFor([entry(a!, 'a', true)])).toEqual({ status: 'ok', outcomes: [granted('a', '')] });
    });

    it('are read back when the owners record names another entry', async () => {
      const [a] = await ownerDiedHolding('a');
      await bench.command('HSET', bench.keys.owners, 'a', '1-1');
      expect(await claimFor([entry(a!, 'a', true)])).toEqual({ status: 'ok', outcomes: [granted('a')] });
      expect(await bench.hash(bench.keys.owners)).toEqual({ a });
    });

    it('are refused as taken once deleted from the LBS, as unknown ones are', async () => {
      const [a] = await ownerDiedHolding('a');
      await bench.command('XDEL', bench.keys.lbs, a!);
      expect(await claimFor([entry(a!, 'a', true)])).toEqual({ status: 'ok', outcomes: ['taken'] });
      expect(await bench.pending()).toEqual([]);
      expect(await bench.hash(bench.keys.loads)).toEqual({ [OWNER]: '0' }); // the owner holds it no more
    });
  });
});
