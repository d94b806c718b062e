import { describe, expect, it } from 'vitest';
import { retire } from '../../../lib/scripts/retire.js';
import { ScriptBench, SESSION_MS, useScriptBench } from '../../support/script-bench.js';
import { waitFor } from '../../support/wait.js';

const ME = 'me';

let bench: ScriptBench;
let nonce: string;

useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
  await bench.command('HSET', bench.keys.readers, ME, 1);
});

/** This consumer owned a stream and finished it: it is still a consumer of the group, with nothing pending. */
async function finishedEverything(): Promise<void> {
  const [id] = await bench.own(ME, 'a');
  await bench.command('XACK', bench.keys.lbs, bench.keys.group, id!);
  await bench.command('HINCRBY', bench.keys.loads, ME, -1);
  await bench.command('HSET', bench.keys.ended, ME, 1);
}

describe('retire.lua', () => {
  it('with nothing pending: deletes the session and forgets the consumer everywhere, consumer group included', async () => {
    await finishedEverything();
    expect(await bench.groupConsumers()).toContain(ME);

    expect(await retire(bench.runner, bench.scope(ME), nonce)).toBe('removed');

    expect(await bench.redis.exists(bench.sessionKey(ME))).toBe(0);
    expect(await bench.score(ME)).toBeNull();
    for (const key of [bench.keys.loads, bench.keys.readers, bench.keys.started, bench.keys.ended]) {
      expect(await bench.hash(key), key).toEqual({});
    }
    expect(await bench.command('SISMEMBER', bench.keys.released, ME)).toBe(0);
    expect(await bench.groupConsumers()).not.toContain(ME);
  });

  it('with entries pending: ends the session in 1 ms, recorded as ended now, and keeps the consumer for the takeover', async () => {
    await bench.own(ME, 'a');
    const before = await bench.now();

    expect(await retire(bench.runner, bench.scope(ME), nonce)).toBe('expiring');

    expect([-2, 0, 1]).toContain(await bench.redis.pTTL(bench.sessionKey(ME)));
    await waitFor(async () => (await bench.redis.exists(bench.sessionKey(ME))) === 0);
    expect(await bench.score(ME)).toBeGreaterThanOrEqual(before);
    expect(await bench.hash(bench.keys.readers)).toEqual({});
    expect(await bench.command('SISMEMBER', bench.keys.released, ME)).toBe(1);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '1' });
    expect(await bench.hash(bench.keys.started)).toHaveProperty(ME);
    expect(await bench.pending(ME)).toHaveLength(1);
    expect(await bench.groupConsumers()).toContain(ME);
  });

  it('with entries pending, lets the key expire rather than deleting it, so that touching it publishes the expired event peers act on', async () => {
    await bench.own(ME, 'a');
    await bench.command('CONFIG', 'SET', 'notify-keyspace-events', 'Kgx');
    try {
      const subscriber = await bench.connect();
      const heard: string[] = [];
      await subscriber.subscribe(`__keyspace@0__:${bench.sessionKey(ME)}`, (message) => heard.push(message));
      expect(await retire(bench.runner, bench.scope(ME), nonce)).toBe('expiring');
      await waitFor(async () => (await bench.redis.exists(bench.sessionKey(ME))) === 0);
      await waitFor(() => heard.includes('expired'));
      expect(heard).not.toContain('del');
    } finally {
      await bench.command('CONFIG', 'SET', 'notify-keyspace-events', '');
    }
  });

  it('changes nothing while another incarnation holds the session: its place in the fleet is not ours', async () => {
    await bench.command('SET', bench.sessionKey(ME), 'other', 'PX', SESSION_MS);
    const before = await bench.command('ZSCORE', bench.keys.consumers, ME);
    expect(await retire(bench.runner, bench.scope(ME), nonce)).toBe('not-ours');
    expect(await bench.redis.get(bench.sessionKey(ME))).toBe('other');
    expect(await bench.command('ZSCORE', bench.keys.consumers, ME)).toEqual(before);

    await bench.own(ME, 'a');
    expect(await retire(bench.runner, bench.scope(ME), nonce)).toBe('not-ours');
    expect(await bench.redis.pTTL(bench.sessionKey(ME))).toBeGreaterThan(SESSION_MS - 5000);
    expect(await bench.command('SISMEMBER', bench.keys.released, ME)).toBe(0);
  });
});
