import { describe, expect, it } from 'vitest';
import { readOrphans } from '../../../lib/scripts/read-orphans.js';
import { encodeEntry } from '../../../lib/producer.js';
import { ScriptBench, useScriptBench } from '../../support/script-bench.js';

const DEAD = 'dead';

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
  await bench.startSession(DEAD);
});

function read(ids: string[]) {
  return readOrphans(bench.runner, bench.scope('me', { maxEntryBytes: 64 }), { previousOwner: DEAD, ids });
}

describe('read-orphans.lua', () => {
  it('returns alive while the consumer session key exists', async () => {
    const [a] = await bench.own(DEAD, 'a');
    expect(await read([a!])).toEqual({ alive: true });
  });

  it('reads the stream name and lbs-input of each entry still pending under the dead consumer', async () => {
    await bench.startSession('peer');
    const [a, b] = await bench.own(DEAD, 'a', 'b');
    const [theirs] = await bench.own('peer', 'theirs');
    await bench.endSession(DEAD);

    expect(await read([a!, theirs!, '99999999999999999999999-0', b!])).toEqual({
      alive: false,
      entries: [
        { kind: 'expired', lbsId: a, stream: 'a', raw: encodeEntry('a') },
        { kind: 'expired', lbsId: b, stream: 'b', raw: encodeEntry('b') },
      ],
    });
  });

  it('dead-letters a malformed entry with the reason, and acknowledges one deleted from the LBS', async () => {
    const big = encodeEntry('a', { padding: 'x'.repeat(100) });
    const malformed = await bench.addFields('lbs-input', big);
    await bench.deliver(DEAD);
    const [deleted] = await bench.own(DEAD, 'b');
    await bench.command('XDEL', bench.keys.lbs, deleted!);
    await bench.endSession(DEAD);

    const reason = `lbs-input is ${big.length} bytes, more than maxEntryBytes (64)`;
    expect(await read([malformed, deleted!])).toEqual({ alive: false, entries: [{ kind: 'dead', lbsId: malformed, reason }] });
    expect(await bench.deadLetters()).toEqual([
      { reason, 'lbs-id': malformed, truncated: JSON.stringify({ 'lbs-input': big.length }), 'lbs-input': big.slice(0, 64) },
    ]);
    expect(await bench.pending()).toEqual([]);
    expect(await bench.lbsIds()).toEqual([]);
  });
});
