import { describe, expect, it } from 'vitest';
import { release } from '../../../lib/scripts/release.js';
import { ScriptBench, SESSION_MS, useScriptBench } from '../../support/script-bench.js';
import { waitFor } from '../../support/wait.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
  await bench.own(ME, 'a');
  await bench.command('HSET', bench.keys.readers, ME, 1);
});

describe('release.lua', () => {
  it('ends the session in 1 ms, records it as ended now, stops reading and marks the hand-over', async () => {
    const before = await bench.now();
    expect(await release(bench.runner, bench.scope(ME), nonce)).toBe(true);

    expect([-2, 0, 1]).toContain(await bench.redis.pTTL(bench.sessionKey(ME)));
    await waitFor(async () => (await bench.redis.exists(bench.sessionKey(ME))) === 0);
    const score = await bench.score(ME);
    expect(score).toBeGreaterThanOrEqual(before);
    expect(score).toBeLessThanOrEqual(await bench.now());
    expect(await bench.hash(bench.keys.readers)).toEqual({});
    expect(await bench.redis.sIsMember(bench.keys.released, ME)).toBe(true);
  });

  it('leaves what the consumer owns pending under it, for the peers to take over', async () => {
    await release(bench.runner, bench.scope(ME), nonce);
    expect(await bench.pending()).toEqual([expect.objectContaining({ consumer: ME })]);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
    expect(await bench.hash(bench.keys.started)).toHaveProperty(ME);
  });

  it('lets the key expire rather than deleting it, so that touching it publishes the expired event peers act on', async () => {
    await bench.command('CONFIG', 'SET', 'notify-keyspace-events', 'Kx');
    try {
      const subscriber = await bench.connect();
      const heard: string[] = [];
      await subscriber.subscribe(`__keyspace@0__:${bench.sessionKey(ME)}`, (message) => heard.push(message));
      await release(bench.runner, bench.scope(ME), nonce);
      await waitFor(async () => (await bench.redis.exists(bench.sessionKey(ME))) === 0);
      await waitFor(() => heard.includes('expired'));
      expect(heard).not.toContain('del');
    } finally {
      await bench.command('CONFIG', 'SET', 'notify-keyspace-events', '');
    }
  });

  it('returns false and changes nothing when the key holds another nonce', async () => {
    await bench.command('SET', bench.sessionKey(ME), 'other', 'PX', SESSION_MS);
    const score = await bench.score(ME);

    expect(await release(bench.runner, bench.scope(ME), nonce)).toBe(false);

    expect(await bench.redis.pTTL(bench.sessionKey(ME))).toBeGreaterThan(SESSION_MS - 5000);
    expect(await bench.score(ME)).toBe(score);
    expect(await bench.hash(bench.keys.readers)).toEqual({ [ME]: '1' });
    expect(await bench.redis.sIsMember(bench.keys.released, ME)).toBe(false);
  });
});
