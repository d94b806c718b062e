import { describe, expect, it } from 'vitest';
import { recover, type RecoverRequest } from '../../../lib/scripts/recover.js';
import { failOnDecodeError, ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';
const MAX_DELIVERIES = 3;

let bench: ScriptBench;
let nonce: string;
/** What the previous incarnation held: streams a, b, c. */
let held: string[];

useScriptBench(async (opened) => {
  bench = opened;
  held = await bench.own(ME, 'a', 'b', 'c');
  nonce = await bench.startSession(ME); // the new incarnation
});

function recoverPage(request: Partial<RecoverRequest> = {}) {
  const scope = bench.scope(ME, { maxDeliveries: MAX_DELIVERIES });
  return recover(bench.runner, scope, { nonce, after: '-', pageSize: 100, counts: false, ...request }, failOnDecodeError);
}

/** What a page did with each entry; the session must be this incarnation's. */
async function recoveredOutcomes(request: Partial<RecoverRequest> = {}) {
  const result = await recoverPage(request);
  if (result.lost) throw new Error('recover.lua answered lost');
  return result.outcomes;
}

describe('recover.lua', () => {
  it('takes back the entries pending under this consumer a page at a time, with new tokens', async () => {
    await bench.redis.set(bench.keys.token, '100');
    const first = await recoverPage({ pageSize: 2 });
    expect(first).toEqual({
      lost: false,
      next: held[1],
      outcomes: [
        { kind: 'granted', lbsId: held[0], stream: 'a', info: {}, token: 101 },
        { kind: 'granted', lbsId: held[1], stream: 'b', info: {}, token: 102 },
      ],
    });
    const second = await recoverPage({ pageSize: 2, after: held[1] });
    expect(second).toEqual({ lost: false, next: '', outcomes: [expect.objectContaining({ lbsId: held[2], stream: 'c', token: 103 })] });
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '3' }); // already counted
  });

  it('counts one more delivery only when asked to', async () => {
    await recoverPage({ counts: false });
    expect((await bench.pending(ME)).map((entry) => entry.deliveries)).toEqual([1, 1, 1]);
    await recoverPage({ counts: true });
    expect((await bench.pending(ME)).map((entry) => entry.deliveries)).toEqual([2, 2, 2]);
  });

  it('dead-letters an entry delivered maxDeliveries times when counting, and only then', async () => {
    await bench.setDeliveries(held[0]!, ME, MAX_DELIVERIES);
    expect((await recoveredOutcomes({ counts: false }))[0]).toMatchObject({ kind: 'granted', lbsId: held[0] });

    const reason = `its owners died ${MAX_DELIVERIES} times (maxDeliveries ${MAX_DELIVERIES})`;
    const outcomes = await recoveredOutcomes({ counts: true });
    expect(outcomes[0]).toEqual({ kind: 'dead', lbsId: held[0], reason });
    expect(await bench.deadLetters()).toEqual([expect.objectContaining({ reason, 'lbs-id': held[0] })]);
    expect(await bench.lbsIds()).toEqual(held.slice(1));
    expect(await bench.hash(bench.keys.owners)).not.toHaveProperty('a');
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '2' });
  });

  it('acknowledges an entry deleted from the LBS and dead-letters a malformed one, uncounting both', async () => {
    await bench.command('XDEL', bench.keys.lbs, held[0]!);
    const malformed = await bench.addFields('other', 'field');
    await bench.deliver(ME);
    await bench.command('HINCRBY', bench.keys.loads, ME, 1); // register.lua counts whatever is pending

    const outcomes = await recoveredOutcomes();

    expect(outcomes.map((outcome) => [outcome.kind, outcome.lbsId])).toEqual([
      ['granted', held[1]],
      ['granted', held[2]],
      ['dead', malformed],
    ]);
    expect((await bench.pending(ME)).map((entry) => entry.id)).toEqual(held.slice(1));
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '2' });
  });

  it('returns lost, taking nothing, when the session holds another nonce', async () => {
    expect(await recoverPage({ nonce: 'stale', counts: true })).toEqual({ lost: true });
    expect((await bench.pending(ME)).map((entry) => entry.deliveries)).toEqual([1, 1, 1]);
  });
});
