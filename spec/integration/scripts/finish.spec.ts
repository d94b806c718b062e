import { describe, expect, it } from 'vitest';
import { finish } from '../../../lib/scripts/finish.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
});

function finishStreams(streams: Array<{ lbsId: string; stream: string }>, asNonce = nonce) {
  return finish(bench.runner, bench.scope(ME), { nonce: asNonce, streams });
}

describe('finish.lua', () => {
  it('acknowledges and deletes the entries it owns, removing their owners records and loads', async () => {
    const [a, b, kept] = await bench.own(ME, 'a', 'b', 'kept');

    const result = await finishStreams([
      { lbsId: a!, stream: 'a' },
      { lbsId: b!, stream: 'b' },
    ]);

    expect(result).toEqual({ lost: false, outcomes: ['done', 'done'] });
    expect(await bench.lbsIds()).toEqual([kept]);
    expect(await bench.pending()).toEqual([{ id: kept, consumer: ME, deliveries: 1 }]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ kept });
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
  });

  it('answers not-owner for an entry pending under another consumer, not pending, or no stream id, and goes on', async () => {
    await bench.startSession('peer');
    const [theirs] = await bench.own('peer', 'theirs');
    const [mine] = await bench.own(ME, 'mine');

    const result = await finishStreams([
      { lbsId: theirs!, stream: 'theirs' },
      { lbsId: '99999999999999999999999-0', stream: 'forged' },
      { lbsId: mine!, stream: 'mine' },
      { lbsId: mine!, stream: 'mine' },
    ]);

    expect(result).toEqual({ lost: false, outcomes: ['not-owner', 'not-owner', 'done', 'not-owner'] });
    expect(await bench.pending()).toEqual([{ id: theirs, consumer: 'peer', deliveries: 1 }]);
    expect(await bench.hash(bench.keys.owners)).toEqual({ theirs });
    expect(await bench.hash(bench.keys.loads)).toEqual({ peer: '1', [ME]: '0' });
  });

  it('keeps an owners record that names another entry of the stream', async () => {
    const [old] = await bench.own(ME, 'a');
    const [current] = await bench.own(ME, 'a'); // the record now names the later entry
    expect(await finishStreams([{ lbsId: old!, stream: 'a' }])).toEqual({ lost: false, outcomes: ['done'] });
    expect(await bench.hash(bench.keys.owners)).toEqual({ a: current });
  });

  it('returns lost, finishing nothing, when the session holds another nonce', async () => {
    const [a] = await bench.own(ME, 'a');
    expect(await finishStreams([{ lbsId: a!, stream: 'a' }], 'stale')).toEqual({ lost: true });
    expect(await bench.pending(ME)).toHaveLength(1);
    expect(await bench.hash(bench.keys.owners)).toEqual({ a });
  });
});
