import { describe, expect, it } from 'vitest';
import { takeBack } from '../../../lib/scripts/take-back.js';
import { failOnDecodeError, ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
});

function takeBackIds(ids: string[], { maxDeliveries = 10, asNonce = nonce } = {}) {
  return takeBack(bench.runner, bench.scope(ME, { maxDeliveries }), { nonce: asNonce, ids }, failOnDecodeError);
}

describe('take-back.lua', () => {
  it('takes back only the given ids still pending under this consumer, with new tokens', async () => {
    await bench.startSession('peer');
    const [mine] = await bench.own(ME, 'a');
    const [theirs] = await bench.own('peer', 'b');
    const [finished] = await bench.own(ME, 'c');
    await bench.command('XACK', bench.keys.lbs, bench.keys.group, finished!);
    await bench.redis.set(bench.keys.token, '7');

    const result = await takeBackIds([mine!, theirs!, finished!, '99999999999999999999999-0', 'not-an-id']);

    expect(result).toEqual({ lost: false, outcomes: [{ kind: 'granted', lbsId: mine, stream: 'a', info: {}, token: 8 }] });
    expect(await bench.pending('peer')).toEqual([{ id: theirs, consumer: 'peer', deliveries: 1 }]);
  });

  it('never counts a delivery, however many there were', async () => {
    const [id] = await bench.own(ME, 'a');
    await bench.setDeliveries(id!, ME, 5);
    expect((await takeBackIds([id!], { maxDeliveries: 5 })).lost).toBe(false);
    expect(await bench.pending(ME)).toEqual([{ id, consumer: ME, deliveries: 5 }]);
    expect(await bench.deadLetters()).toEqual([]);
  });

  it('drops an entry whose stream is held through another pending entry, uncounting it', async () => {
    await bench.startSession('peer');
    const [held] = await bench.own('peer', 'a');
    await bench.add('a');
    // Delivered to a blocking read of an incarnation that has ended since, never admitted; counted by register.lua.
    const [stray] = await bench.deliver(ME);
    await bench.command('HINCRBY', bench.keys.loads, ME, 1);

    expect(await takeBackIds([stray!])).toEqual({ lost: false, outcomes: [{ kind: 'duplicate', lbsId: stray, stream: 'a' }] });
    expect(await bench.lbsIds()).toEqual([held]);
    expect(await bench.hash(bench.keys.loads)).toEqual({ peer: '1', [ME]: '0' });
  });

  it('counts in loads an entry delivered to the blocking read of an ended incarnation after this one registered', async () => {
    await bench.command('HSET', bench.keys.loads, ME, 0);
    await bench.add('a');
    // register.lua counted what was pending then; this entry came later, to a read the stall or outage left behind.
    const [stray] = await bench.deliver(ME);

    expect(await takeBackIds([stray!])).toMatchObject({ lost: false, outcomes: [{ kind: 'granted', lbsId: stray, stream: 'a' }] });
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
  });

  it('acknowledges an entry deleted from the LBS, uncounting it', async () => {
    const [id] = await bench.own(ME, 'a');
    await bench.command('XDEL', bench.keys.lbs, id!);
    expect(await takeBackIds([id!])).toEqual({ lost: false, outcomes: [] });
    expect(await bench.pending(ME)).toEqual([]);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '0' });
  });

  it('returns lost, taking nothing, when the session holds another nonce', async () => {
    const [id] = await bench.own(ME, 'a');
    await bench.redis.set(bench.keys.token, '7');
    expect(await takeBackIds([id!], { asNonce: 'stale' })).toEqual({ lost: true });
    expect(await bench.redis.get(bench.keys.token)).toBe('7');
  });
});
