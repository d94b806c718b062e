import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../../../lib/keys.js';
import { register } from '../../../lib/scripts/register.js';
import { suspend } from '../../../lib/scripts/suspend.js';
import { ScriptBench, SESSION_MS, useScriptBench } from '../../support/script-bench.js';

let bench: ScriptBench;

useScriptBench(async (opened) => {
  bench = opened;
});

const ME = 'me';
const MEMBER = { weight: 2, max: 50, auto: true, draining: false };

describe('register.lua', () => {
  it('starts an incarnation: nonce with the session ttl, deadline, start time, stale marks cleared, loads recounted', async () => {
    await bench.command('HSET', bench.keys.ended, ME, 1);
    await bench.command('SADD', bench.keys.released, ME);
    await bench.command('HSET', bench.keys.loads, ME, 99);
    await bench.add('a');
    await bench.add('b');
    await bench.deliver(ME, 2);

    const result = await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER });

    expect(result).toEqual({ registered: true, serverNow: expect.any(Number), previousFailed: false });
    const serverNow = result.registered ? result.serverNow : 0;
    expect(await bench.redis.get(bench.sessionKey(ME))).toBe('n1');
    const ttl = await bench.redis.pTTL(bench.sessionKey(ME));
    expect(ttl).toBeGreaterThan(SESSION_MS - 5000);
    expect(ttl).toBeLessThanOrEqual(SESSION_MS);
    expect(await bench.score(ME)).toBe(serverNow + SESSION_MS);
    expect(await bench.hash(bench.keys.started)).toEqual({ [ME]: String(serverNow) });
    expect(await bench.hash(bench.keys.ended)).toEqual({});
    expect(await bench.command('SISMEMBER', bench.keys.released, ME)).toBe(0);
    expect(await bench.hash(bench.keys.loads)).toEqual({ [ME]: '2' });
  });

  it('records the member, the protocol version and a change of membership', async () => {
    await bench.command('SET', bench.keys.membership, 41);

    await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER });

    expect(JSON.parse((await bench.hash(bench.keys.members))[ME]!)).toEqual(MEMBER);
    expect(await bench.redis.get(bench.keys.protocol)).toBe(String(PROTOCOL_VERSION));
    expect(await bench.redis.get(bench.keys.membership)).toBe('42');
  });

  it('replaces the restart marker an earlier process under the id left (suspend.lua), counting no failure', async () => {
    const earlier = await bench.startSession(ME);
    await bench.command('HSET', bench.keys.loads, ME, 3);
    expect(await suspend(bench.runner, bench.scope(ME), { nonce: 'stale', graceMs: 30_000, member: MEMBER })).toBe(false);
    expect(await suspend(bench.runner, bench.scope(ME), { nonce: earlier, graceMs: 30_000, member: MEMBER })).toBe(true);
    expect(await bench.redis.get(bench.sessionKey(ME))).toBe(`restarting:${earlier}`);
    expect(await bench.redis.pTTL(bench.sessionKey(ME))).toBeGreaterThan(25_000);
    // Pinned to what it holds: nothing is handed to it, and nobody's share changes while it is away.
    expect(JSON.parse((await bench.hash(bench.keys.members))[ME]!)).toEqual({ ...MEMBER, max: 3 });
    expect(await bench.command('SISMEMBER', bench.keys.released, ME)).toBe(1);

    expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({
      registered: true,
      previousFailed: false,
    });
    expect(JSON.parse((await bench.hash(bench.keys.members))[ME]!)).toEqual(MEMBER);
  });

  it('refuses, changing nothing, in a service that runs a later protocol version; upgrades an earlier one', async () => {
    await bench.command('SET', bench.keys.protocol, PROTOCOL_VERSION + 1);
    expect(await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER })).toEqual({
      registered: false,
      protocol: PROTOCOL_VERSION + 1,
    });
    expect(await bench.redis.exists(bench.sessionKey(ME))).toBe(0);
    expect(await bench.hash(bench.keys.members)).toEqual({});

    await bench.command('SET', bench.keys.protocol, 1);
    expect((await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER })).registered).toBe(true);
    expect(await bench.redis.get(bench.keys.protocol)).toBe(String(PROTOCOL_VERSION));
  });

  it('counts no load when the consumer group is missing (Redis restarted without its data)', async () => {
    const bare = await ScriptBench.open(bench.url, { group: false });
    try {
      const result = await register(bare.runner, bare.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER });
      expect(result.registered).toBe(true);
      expect(await bare.hash(bare.keys.loads)).toEqual({ [ME]: '0' });
    } finally {
      await bare.close();
    }
  });

  it('refuses while another nonce holds the session key, returning its PTTL and changing nothing', async () => {
    await bench.command('SET', bench.sessionKey(ME), 'someone-else', 'PX', 30_000);

    const result = await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER });

    expect(result.registered).toBe(false);
    const left = !result.registered && 'holderLeftMs' in result ? result.holderLeftMs : 0;
    expect(left).toBeGreaterThan(25_000);
    expect(left).toBeLessThanOrEqual(30_000);
    expect(await bench.redis.get(bench.sessionKey(ME))).toBe('someone-else');
    expect(await bench.score(ME)).toBeNull();
    expect(await bench.hash(bench.keys.started)).toEqual({});
  });

  it('refuses a replacement naming a nonce that is not the one in the key', async () => {
    await bench.command('SET', bench.sessionKey(ME), 'someone-else', 'PX', 30_000);
    const result = await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: 'n1', member: MEMBER });
    expect(result.registered).toBe(false);
  });

  it('replaces its own previous nonce', async () => {
    await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER });
    const result = await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: 'n1', member: MEMBER });
    expect(result.registered).toBe(true);
    expect(await bench.redis.get(bench.sessionKey(ME))).toBe('n2');
  });

  describe('previousFailed', () => {
    it('is true for a new process after an incarnation that ended while a live peer had started before that end', async () => {
      const now = await bench.now();
      await bench.startSession('peer', { startedAt: now - 10_000 });
      await bench.endSession(ME, { at: now - 5000 });
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: true });
    });

    it('is false for a renewal by the same process, even when the previous incarnation failed alone', async () => {
      const now = await bench.now();
      await bench.startSession('peer', { startedAt: now - 10_000 });
      await bench.endSession(ME, { at: now - 5000 });
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: 'n1', member: MEMBER })).toMatchObject({ previousFailed: false });
    });

    it('is false after close() (the consumer is in released)', async () => {
      const now = await bench.now();
      await bench.startSession('peer', { startedAt: now - 10_000 });
      await bench.endSession(ME, { at: now - 5000 });
      await bench.command('SADD', bench.keys.released, ME);
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: false });
    });

    it('is false when every session ended at once (the peer registered again after that end)', async () => {
      const now = await bench.now();
      await bench.endSession(ME, { at: now - 5000 });
      await bench.startSession('peer', { startedAt: now - 1000 });
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: false });
    });

    it('is false when the peer that started before the end is itself gone', async () => {
      const now = await bench.now();
      await bench.startSession('peer', { startedAt: now - 10_000 });
      await bench.command('DEL', bench.sessionKey('peer'));
      await bench.endSession(ME, { at: now - 5000 });
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: false });
    });

    it('is false with no earlier incarnation on record (never registered, or forgotten)', async () => {
      await bench.startSession('peer', { startedAt: (await bench.now()) - 10_000 });
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n1', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: false });
    });

    it('judges by the end a sweep recorded in ended, not by the later re-report time in consumers', async () => {
      const now = await bench.now();
      await bench.endSession(ME, { at: now + 10_000 }); // re-scored by a sweep to be reported again later
      await bench.command('HSET', bench.keys.ended, ME, now - 5000);
      await bench.startSession('peer', { startedAt: now - 3000 }); // after the recorded end: everyone ended at once
      expect(await register(bench.runner, bench.scope(ME), { nonce: 'n2', replaces: '', member: MEMBER })).toMatchObject({ previousFailed: false });
    });
  });
});
