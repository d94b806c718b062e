import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { channelFor, ensureExpiredEvents, withExpiredEvents } from '../../lib/keyspace-config.js';
import type { RedisCommander } from '../../lib/redis.js';

/** A RedisCommander that records every command and answers CONFIG GET / CONFIG SET as configured. */
function fakeRedis(
  flags: string,
  { refuseGet = false, refuseSet = false }: { refuseGet?: boolean; refuseSet?: boolean } = {},
) {
  const calls: string[][] = [];
  const state = { flags };
  const redis: RedisCommander = {
    async sendCommand(args) {
      calls.push([...args]);
      const [command, sub, name, value] = args;
      if (command !== 'CONFIG' || name !== 'notify-keyspace-events') throw new Error(`unexpected command ${args.join(' ')}`);
      if (sub === 'GET') {
        if (refuseGet) throw new Error("ERR unknown command 'CONFIG'");
        return [name, state.flags];
      }
      if (sub === 'SET') {
        if (refuseSet) throw new Error("ERR unknown command 'CONFIG'");
        state.flags = value ?? '';
        return 'OK';
      }
      throw new Error(`unexpected command ${args.join(' ')}`);
    },
  };
  return { redis, calls, state };
}

const setCalls = (calls: string[][]) => calls.filter(([command, sub]) => command === 'CONFIG' && sub === 'SET');

describe('withExpiredEvents', () => {
  it.each([
    ['', 'Kx'],
    ['E', 'Ex'],
    ['K', 'Kx'],
    ['x', 'xK'],
    ['AKE', 'AKE'],
    ['A', 'AK'],
    ['Kg', 'Kgx'],
    ['Ex', 'Ex'],
    ['Kx', 'Kx'],
    ['g$lshzxeKE', 'g$lshzxeKE'],
  ])('%j -> %j', (flags, merged) => {
    expect(withExpiredEvents(flags)).toBe(merged);
  });

  it.each(['', 'E', 'Kg', 'g$lsh', 'AE', 'Em', 'Et'])('keeps every flag of %j and gives a channel', (flags) => {
    const merged = withExpiredEvents(flags);
    for (const flag of flags) expect(merged).toContain(flag);
    expect(channelFor(merged)).toBeDefined();
  });
});

describe('channelFor', () => {
  it.each([
    ['Kx', 'keyspace'],
    ['xK', 'keyspace'],
    ['AK', 'keyspace'],
    ['AKE', 'keyspace'],
    ['KEx', 'keyspace'],
    ['Ex', 'keyevent'],
    ['AE', 'keyevent'],
    ['g$lshzxeE', 'keyevent'],
  ])('%j -> %s', (flags, channel) => {
    expect(channelFor(flags)).toBe(channel);
  });

  it.each(['', 'K', 'E', 'KE', 'Kg$', 'x', 'A'])('%j -> undefined (no expired events, or no channel)', (flags) => {
    expect(channelFor(flags)).toBeUndefined();
  });
});

describe('ensureExpiredEvents', () => {
  it.each([
    ['xK', 'keyspace'],
    ['AKE', 'keyspace'],
    ['xE', 'keyevent'],
  ])('flags %j already set: no CONFIG SET, channel %s', async (flags, channel) => {
    const { redis, calls } = fakeRedis(flags);
    await expect(ensureExpiredEvents(redis, true)).resolves.toBe(channel);
    expect(calls).toEqual([['CONFIG', 'GET', 'notify-keyspace-events']]);
  });

  it.each([
    ['', 'Kx'],
    ['Kg', 'Kgx'],
    ['g$', 'g$Kx'],
  ])('flags %j missing with configure: CONFIG SET %j and the keyspace channel', async (flags, merged) => {
    const { redis, calls } = fakeRedis(flags);
    await expect(ensureExpiredEvents(redis, true)).resolves.toBe('keyspace');
    expect(setCalls(calls)).toEqual([['CONFIG', 'SET', 'notify-keyspace-events', merged]]);
  });

  it('the flags it sets keep the ones already there', async () => {
    const { redis, state } = fakeRedis('Elg');
    await ensureExpiredEvents(redis, true);
    for (const flag of 'Elg') expect(state.flags).toContain(flag);
    expect(channelFor(state.flags)).toBeDefined();
  });

  // With 'E' kept, Redis publishes expirations on __keyevent@…: that is the channel to listen on.
  it('returns the channel of the flags it set (E kept -> keyevent)', async () => {
    const { redis, state } = fakeRedis('E');
    const channel = await ensureExpiredEvents(redis, true);
    expect(channel).toBe('keyevent');
    expect(channel).toBe(channelFor(state.flags));
  });

  it.each(['', 'K', 'E', 'g'])('flags %j missing without configure: ConfigError on notify-keyspace-events, no CONFIG SET', async (flags) => {
    const { redis, calls } = fakeRedis(flags);
    const error = await ensureExpiredEvents(redis, false).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('notify-keyspace-events');
    expect((error as ConfigError).message).toContain('configureKeyspaceEvents');
    expect(setCalls(calls)).toEqual([]);
  });

  it('CONFIG SET refused: ConfigError mentioning notify-keyspace-events, with the cause', async () => {
    const { redis } = fakeRedis('', { refuseSet: true });
    const error = await ensureExpiredEvents(redis, true).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe('notify-keyspace-events');
    expect((error as ConfigError).message).toContain('notify-keyspace-events');
    expect((error as ConfigError).cause).toBeInstanceOf(Error);
  });

  it('CONFIG GET refused (managed Redis): resolves undefined and sets nothing', async () => {
    const { redis, calls } = fakeRedis('', { refuseGet: true });
    await expect(ensureExpiredEvents(redis, true)).resolves.toBeUndefined();
    expect(setCalls(calls)).toEqual([]);
  });

  it('CONFIG GET with no value (unknown parameter): treats the flags as empty', async () => {
    const calls: string[][] = [];
    const redis: RedisCommander = {
      async sendCommand(args) {
        calls.push(args);
        return args[1] === 'GET' ? [] : 'OK';
      },
    };
    await expect(ensureExpiredEvents(redis, true)).resolves.toBe('keyspace');
    expect(setCalls(calls)).toEqual([['CONFIG', 'SET', 'notify-keyspace-events', 'Kx']]);
  });
});
