import { describe, expect, it } from 'vitest';
import { openPositions } from '../../../lib/scripts/open-positions.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
  await bench.startSession(ME);
});

function open(leases: Array<{ stream: string; token: number; lbsId: string }>) {
  return openPositions(bench.runner, bench.scope(ME), leases);
}

describe('open-positions.lua', () => {
  it("returns each stream's stored position ('' when none) and raises its position token to the lease's", async () => {
    const [a, b] = await bench.own(ME, 'a', 'b');
    await bench.command('HSET', bench.keys.positions, 'a', '4-0');
    await bench.command('HSET', bench.keys.positionTokens, 'a', 3);
    expect(await open([{ stream: 'a', token: 10, lbsId: a! }, { stream: 'b', token: 11, lbsId: b! }])).toEqual([
      { stale: false, position: '4-0' },
      { stale: false, position: '' },
    ]);
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ a: '10', b: '11' });
  });

  it('answers stale, writing nothing, for a token below the last writer or an entry not pending under this consumer', async () => {
    await bench.startSession('peer');
    const [later] = await bench.own(ME, 'later');
    const [theirs] = await bench.own('peer', 'theirs');
    await bench.command('HSET', bench.keys.positionTokens, 'later', 50);
    expect(
      await open([
        { stream: 'later', token: 10, lbsId: later! },
        { stream: 'theirs', token: 99, lbsId: theirs! },
        { stream: 'gone', token: 99, lbsId: '1-0' },
      ]),
    ).toEqual([{ stale: true }, { stale: true }, { stale: true }]);
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ later: '50' });
  });
});
