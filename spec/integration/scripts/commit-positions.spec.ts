import { describe, expect, it } from 'vitest';
import { commitPositions } from '../../../lib/scripts/commit-positions.js';
import { finish } from '../../../lib/scripts/finish.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
});

type Position = { stream: string; id: string; token: number; lbsId: string };

function commit(positions: Position[], asNonce = nonce) {
  return commitPositions(bench.runner, bench.scope(ME), { nonce: asNonce, positions });
}

describe('commit-positions.lua', () => {
  it('writes each position with its lease token, for the streams whose entry is pending under this consumer', async () => {
    const [a, b] = await bench.own(ME, 'a', 'b');
    const result = await commit([
      { stream: 'a', id: '5-0', token: 10, lbsId: a! },
      { stream: 'b', id: '7-3', token: 11, lbsId: b! },
    ]);
    expect(result).toEqual({ lost: false, outcomes: ['committed', 'committed'] });
    expect(await bench.hash(bench.keys.positions)).toEqual({ a: '5-0', b: '7-3' });
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ a: '10', b: '11' });
  });

  it('refuses a position whose token is below the last writer and goes on with the others', async () => {
    const [a, b] = await bench.own(ME, 'a', 'b');
    await bench.command('HSET', bench.keys.positionTokens, 'a', 20);
    await bench.command('HSET', bench.keys.positions, 'a', '9-0');
    const result = await commit([
      { stream: 'a', id: '5-0', token: 10, lbsId: a! },
      { stream: 'b', id: '7-3', token: 11, lbsId: b! },
    ]);
    expect(result).toEqual({ lost: false, outcomes: ['stale', 'committed'] });
    expect(await bench.hash(bench.keys.positions)).toEqual({ a: '9-0', b: '7-3' });
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ a: '20', b: '11' });
  });

  it('writes nothing for a stream finished meanwhile (a commit that reached Redis after the finish) or held by a peer', async () => {
    await bench.startSession('peer');
    const [mine] = await bench.own(ME, 'finished');
    const [theirs] = await bench.own('peer', 'theirs');
    await finish(bench.runner, bench.scope(ME), { nonce, streams: [{ lbsId: mine!, stream: 'finished' }] });
    const result = await commit([
      { stream: 'finished', id: '5-0', token: 10, lbsId: mine! },
      { stream: 'theirs', id: '1-0', token: 99, lbsId: theirs! },
    ]);
    expect(result).toEqual({ lost: false, outcomes: ['stale', 'stale'] });
    expect(await bench.hash(bench.keys.positions)).toEqual({});
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({});
  });

  it("answers lost, writing nothing, for an incarnation that is not the session's", async () => {
    const [a] = await bench.own(ME, 'a');
    expect(await commit([{ stream: 'a', id: '5-0', token: 10, lbsId: a! }], 'an-old-nonce')).toEqual({ lost: true });
    expect(await bench.hash(bench.keys.positions)).toEqual({});
  });
});
