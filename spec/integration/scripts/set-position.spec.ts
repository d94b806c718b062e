import { describe, expect, it } from 'vitest';
import { setPosition } from '../../../lib/scripts/set-position.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
  await bench.startSession(ME);
});

function set(stream: string, position: string, token?: number) {
  return setPosition(bench.runner, bench.scope(ME), { stream, position, token });
}

describe('set-position.lua', () => {
  it('sets the position of a stream nobody owns, leaving its token alone', async () => {
    await bench.command('HSET', bench.keys.positionTokens, 'free', 8);
    expect(await set('free', '3-0')).toBe('set');
    expect(await bench.hash(bench.keys.positions)).toEqual({ free: '3-0' });
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ free: '8' });
  });

  it("lets the owner set it with its lease's token, and refuses an owner whose token is out of date", async () => {
    await bench.own(ME, 'mine');
    expect(await set('mine', '3-0', 10)).toBe('set');
    expect(await bench.hash(bench.keys.positionTokens)).toEqual({ mine: '10' });
    await bench.command('HSET', bench.keys.positionTokens, 'mine', 20);
    expect(await set('mine', '9-0', 10)).toBe('owned');
    expect(await bench.hash(bench.keys.positions)).toEqual({ mine: '3-0' });
  });

  it('refuses a stream another consumer owns, and one this consumer owns when no token is given', async () => {
    await bench.startSession('peer');
    await bench.own('peer', 'theirs');
    await bench.own(ME, 'mine');
    expect(await set('theirs', '1-0', 99)).toBe('owned');
    expect(await set('mine', '1-0')).toBe('owned');
    expect(await bench.hash(bench.keys.positions)).toEqual({});
  });
});
