import { expect, it } from 'vitest';
import { keysFor, sessionKey } from '../../lib/keys.js';
import { KeyspaceSubscriber } from '../../lib/keyspace-subscriber.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

/** A subscriber of consumer `me`, recording what it hears. */
async function subscriber(channels: Array<'keyspace' | 'keyevent'>) {
  const keys = keysFor(serviceName());
  const heard: string[] = [];
  const own = sessionKey(keys, 'me');
  const listening = new KeyspaceSubscriber(keys, own, 0, {
    onSessionExpired: (consumerId) => heard.push(`expired ${consumerId}`),
    onHandoff: (message) => heard.push(message),
    onResubscribed: () => undefined,
    onError: () => undefined,
  });
  await listening.start(await redis.fleet.connect(), channels);
  return { listening, heard, channel: `__keyspace@0__:${own}`, keys };
}

it.each([['keyspace'], ['keyevent']] as const)(
  'hears hand-off messages on its own channel only (%s), and heardAll() resolves after every one sent before it',
  async (channel) => {
    const { listening, heard, channel: own, keys } = await subscriber([channel]);
    await redis.admin.publish(`__keyspace@0__:${sessionKey(keys, 'someone-else')}`, 'handoff:{"for":"another"}');
    // Sent just before: heardAll() must not resolve before it is heard (drain() relies on it).
    void redis.admin.publish(own, 'handoff:{"n":"x"}');
    await listening.heardAll(redis.admin);
    expect(heard).toEqual(['handoff:{"n":"x"}']);
    // Other messages on the channel (Redis's own keyspace events) are not hand-offs.
    await redis.admin.publish(own, 'set');
    await redis.admin.publish(own, 'handoff:{"n":"y"}');
    await waitFor(() => heard.length === 2);
    expect(heard).toEqual(['handoff:{"n":"x"}', 'handoff:{"n":"y"}']);
  },
);
