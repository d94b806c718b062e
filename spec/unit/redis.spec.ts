import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { RedisStreamClient } from '../../lib/index.js';
import { createSentinel as createSentinel5 } from 'redis5';
import { createSentinel as createSentinel6 } from 'redis6';
import { createClient, createCluster } from '../support/node-redis.js';

describe('the client given to RedisStreamClient', () => {
  it('is refused with a ConfigError naming the setting when it is no node-redis client', () => {
    // The shapes of ioredis (sendCommand takes a Command object; status instead of isReady) and node-redis 3.
    const ioredisLike = { status: 'ready', duplicate: () => ({}), sendCommand: () => Promise.resolve() };
    const nodeRedis3Like = { ready: true, duplicate: () => ({}), send_command: () => undefined };
    for (const redis of [ioredisLike, nodeRedis3Like, {}, null, 'redis://localhost']) {
      let failure: unknown;
      try {
        new RedisStreamClient(redis as never, { serviceName: 'svc' });
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(ConfigError);
      expect(failure).toMatchObject({ setting: 'redis', message: expect.stringMatching(/node-redis client/) });
    }
  });

  it('is accepted as a node-redis client or cluster client, connected or not yet', () => {
    expect(() => new RedisStreamClient(createClient(), { serviceName: 'svc' })).not.toThrow();
    expect(() => new RedisStreamClient(createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }), { serviceName: 'svc' })).not.toThrow();
  });

  it('is accepted as a node-redis 5 or 6 Sentinel client, connected or not yet', () => {
    const sentinelRootNodes = [{ host: '127.0.0.1', port: 1 }];
    // node-redis 6's Sentinel client has a duplicate() too: it is still taken for what it is, not a plain client.
    for (const sentinel of [createSentinel5({ name: 'm', sentinelRootNodes }), createSentinel6({ name: 'm', sentinelRootNodes })]) {
      expect(() => new RedisStreamClient(sentinel, { serviceName: 'svc' })).not.toThrow();
    }
  });
});
