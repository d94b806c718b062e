import { describe, expect, it } from 'vitest';
import { reject } from '../../../lib/scripts/reject.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
});

function rejectStream(lbsId: string, stream: string, asNonce = nonce) {
  return reject(bench.runner, bench.scope(ME), { nonce: asNonce, lbsId, stream, reason: 'key holds another type' });
}

describe('reject.lua', () => {
  it('moves the entry to the dead-letter stream with the reason, and forgets its owner, load, position and token', async () => {
    const [id, kept] = await bench.own(ME, 'bad', 'kept');
    await bench.command('HSET', bench.keys.positions, 'bad', '1-0', 'kept', '2-0');
    await bench.command('HSET', bench.keys.positionTokens, 'bad', 5, 'kept', 6);
    expect(await rejectStream(id!, 'bad')).toBe('rejected');
    expect(await bench.lbsIds()).toEqual([kept]);
    expect(await bench.deadLetters()).toEqual([expect.objectContaining({ reason: 'key holds another type', 'lbs-id': id })]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ kept });
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
    expect(await bench.hash(bench.keys.positions)).toEqual({ kept: '2-0' });
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ kept: '6' });
  });

  it("answers not-owner for another consumer's entry and lost for an incarnation that is not the session's", async () => {
    await bench.startSession('peer');
    const [theirs] = await bench.own('peer', 'theirs');
    const [mine] = await bench.own(ME, 'mine');
    expect(await rejectStream(theirs!, 'theirs')).toBe('not-owner');
    expect(await rejectStream(mine!, 'mine', 'an-old-nonce')).toBe('lost');
    expect(await bench.deadLetters()).toEqual([]);
    expect((await bench.lbsIds()).sort()).toEqual([theirs, mine].sort());
  });
});
