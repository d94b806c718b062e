import { describe, expect, it } from 'vitest';
import { heartbeat, type HeartbeatRequest } from '../../../lib/scripts/heartbeat.js';
import { ScriptBench, SESSION_MS, useScriptBench } from '../../support/script-bench.js';
import { waitFor } from '../../support/wait.js';

const ME = 'me';
const RECHECK_MS = 10_000;

let bench: ScriptBench;
let nonce: string;

  // DEBUG SET-ACTIVE-EXPIRE: to show that the sweep's touch, not Redis's expiry cycle, expires a key.
useScriptBench(async (opened) => {
  bench = opened;
  nonce = await bench.startSession(ME);
}, { args: ['--enable-debug-command', 'yes'] });

function beat(request: Partial<HeartbeatRequest> = {}, options: { heartbeatMs?: number } = {}) {
  return heartbeat(bench.runner, bench.scope(ME, options), { nonce, recheckMs: RECHECK_MS, sweepLimit: 100, announceOn: '', database: 0, sharesSeenAt: undefined, ...request });
}

/** Records what is published on `channels`. `settled()` returns all of it up to now: a marker published after a
 * script call arrives after whatever the script published, so nothing needs waiting for beyond the markers. */
async function listen(...channels: string[]) {
  const subscriber = await bench.connect();
  const heard: Array<[channel: string, message: string]> = [];
  for (const channel of channels) await subscriber.subscribe(channel, (message, from) => heard.push([from, message]));
  return {
    async settled(): Promise<Array<[string, string]>> {
      const marker = `marker-${heard.length}`;
      for (const channel of channels) await bench.command('PUBLISH', channel, marker);
      await waitFor(() => heard.filter(([, message]) => message === marker).length === channels.length);
      return heard.filter(([, message]) => !message.startsWith('marker-'));
    },
  };
}

/** A peer that died holding one stream, its session ended at `endedAt`. */
async function deadPeerWithEntries(peer: string, endedAt?: number): Promise<void> {
  await bench.startSession(peer);
  await bench.own(peer, `${peer}-stream`);
  await bench.endSession(peer, { at: endedAt });
}

describe('heartbeat.lua', () => {
  it('extends the session to heartbeatMs and records the new deadline', async () => {
    await bench.command('PEXPIRE', bench.sessionKey(ME), 5000);
    const result = await beat();
    expect(result).toMatchObject({ extended: true, deadPeers: [], nextPeerDeadline: undefined });
    expect(await bench.redis.pTTL(bench.sessionKey(ME))).toBeGreaterThan(SESSION_MS - 5000);
    expect(await bench.score(ME)).toBe(result.serverNow + SESSION_MS);
  });

  it('returns lost when the key holds another nonce, and neither extends nor sweeps', async () => {
    await bench.command('SET', bench.sessionKey(ME), 'other', 'PX', 5000);
    const before = await bench.score(ME);
    await deadPeerWithEntries('peer');
    const channel = `__keyspace@0__:${bench.sessionKey('peer')}`;
    const heard = await listen(channel);

    expect(await beat({ announceOn: 'keyspace' })).toMatchObject({ extended: false, deadPeers: [], nextPeerDeadline: undefined });
    expect(await bench.redis.pTTL(bench.sessionKey(ME))).toBeLessThanOrEqual(5000);
    expect(await bench.score(ME)).toBe(before);
    expect(await bench.hash(bench.keys.ended)).toEqual({});
    expect(await heard.settled()).toEqual([]);
  });

  describe('sweeping an overdue peer that still has pending entries', () => {
    it('reports it, keeps its session end in ended, re-scores it for the recheck and announces it on the keyspace channel', async () => {
      const endedAt = (await bench.now()) - 500;
      await deadPeerWithEntries('peer', endedAt);
      const heard = await listen(`__keyspace@0__:${bench.sessionKey('peer')}`);

      const result = await beat({ announceOn: 'keyspace' });

      expect(result.deadPeers).toEqual(['peer']);
      expect(await bench.hash(bench.keys.ended)).toEqual({ peer: String(endedAt) });
      expect(await bench.score('peer')).toBe(result.serverNow + RECHECK_MS);
      expect(await heard.settled()).toEqual([[`__keyspace@0__:${bench.sessionKey('peer')}`, 'expired']]);
    });

    it('announces it on the keyevent channel with the session key, or nowhere', async () => {
      await deadPeerWithEntries('peer');
      const heard = await listen('__keyevent@0__:expired');
      await beat({ announceOn: '' });
      expect(await heard.settled()).toEqual([]);
      await bench.command('ZADD', bench.keys.consumers, (await bench.now()) - 1, 'peer');
      await beat({ announceOn: 'keyevent' });
      expect(await heard.settled()).toEqual([['__keyevent@0__:expired', bench.sessionKey('peer')]]);
    });

    it('reports it again only once the recheck time has passed, keeping the first session end', async () => {
      const endedAt = (await bench.now()) - 500;
      await deadPeerWithEntries('peer', endedAt);
      expect((await beat()).deadPeers).toEqual(['peer']);
      expect((await beat()).deadPeers).toEqual([]);

      await bench.command('ZADD', bench.keys.consumers, (await bench.now()) - 1, 'peer'); // the recheck is due
      expect((await beat()).deadPeers).toEqual(['peer']);
      expect(await bench.hash(bench.keys.ended)).toEqual({ peer: String(endedAt) });
    });

    it('inspects at most sweepLimit overdue peers per call', async () => {
      for (const peer of ['p1', 'p2', 'p3']) await deadPeerWithEntries(peer);
      const first = await beat({ sweepLimit: 2 });
      expect(first.deadPeers).toHaveLength(2);
      const second = await beat({ sweepLimit: 2 });
      expect([...first.deadPeers, ...second.deadPeers].sort()).toEqual(['p1', 'p2', 'p3']);
    });
  });

  it('forgets an overdue peer with nothing pending, everywhere, consumer group included', async () => {
    await bench.startSession('peer');
    const [id] = await bench.own('peer', 'finished');
    await bench.command('XACK', bench.keys.lbs, bench.keys.group, id!);
    await bench.command('HSET', bench.keys.readers, 'peer', 1);
    await bench.command('SADD', bench.keys.released, 'peer');
    await bench.command('HSET', bench.keys.ended, 'peer', 1);
    await bench.endSession('peer');

    expect((await beat()).deadPeers).toEqual([]);

    expect(await bench.score('peer')).toBeNull();
    for (const key of [bench.keys.loads, bench.keys.readers, bench.keys.started, bench.keys.ended]) {
      expect(await bench.hash(key), key).not.toHaveProperty('peer');
    }
    expect(await bench.command('SISMEMBER', bench.keys.released, 'peer')).toBe(0);
    expect(await bench.groupConsumers()).not.toContain('peer');
  });

  it('leaves alone an overdue peer whose session key still exists', async () => {
    await bench.startSession('peer');
    const overdue = (await bench.now()) - 1;
    await bench.command('ZADD', bench.keys.consumers, overdue, 'peer');
    expect((await beat()).deadPeers).toEqual([]);
    expect(await bench.score('peer')).toBe(overdue);
    expect(await bench.hash(bench.keys.started)).toHaveProperty('peer');
  });

  it('touches an overdue key, so that Redis expires it and publishes its expired event at once', async () => {
    await bench.command('DEBUG', 'SET-ACTIVE-EXPIRE', 0);
    await bench.command('CONFIG', 'SET', 'notify-keyspace-events', 'Ex');
    try {
      const heard = await listen('__keyevent@0__:expired');
      await bench.startSession('peer', { ttlMs: 1 });
      const deadline = await bench.now();
      await waitFor(async () => (await bench.now()) > deadline + 1); // past the key's TTL; only its access expires it now
      await bench.command('ZADD', bench.keys.consumers, deadline, 'peer');
      expect(await heard.settled()).toEqual([]);

      await beat({ announceOn: '' });

      expect(await heard.settled()).toEqual([['__keyevent@0__:expired', bench.sessionKey('peer')]]);
    } finally {
      await bench.command('CONFIG', 'SET', 'notify-keyspace-events', '');
      await bench.command('DEBUG', 'SET-ACTIVE-EXPIRE', 1);
    }
  });

  describe('next peer deadline', () => {
    it('is the earliest deadline of any other consumer, not this one', async () => {
      const now = await bench.now();
      await bench.command('ZADD', bench.keys.consumers, now + 30_000, 'p1', now + 20_000, 'p2');
      await bench.command('SET', bench.sessionKey('p1'), 'x', 'PX', SESSION_MS);
      await bench.command('SET', bench.sessionKey('p2'), 'x', 'PX', SESSION_MS);
      // heartbeatMs 10 s: this consumer's own deadline comes first and must be skipped.
      expect((await beat({}, { heartbeatMs: 10_000 })).nextPeerDeadline).toBe(now + 20_000);
    });

    it('is undefined when this consumer is alone', async () => {
      expect((await beat()).nextPeerDeadline).toBeUndefined();
    });
  });
});
