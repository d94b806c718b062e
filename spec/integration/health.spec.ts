import { expect, it } from 'vitest';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const HEARTBEAT_MS = 600;

it('health() follows the client through its life: new, running, draining, session lost in a pause and renewed, stopped', async () => {
  const service = serviceName();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS }, { start: false });
  expect(client.health()).toEqual({
    state: 'new',
    sessionValid: false,
    validityMsLeft: 0,
    owned: 0,
    lastHeartbeatAt: undefined,
    draining: false,
  });

  const beforeInit = Date.now();
  await client.init();
  await client.addStream('a');
  await client.addStream('b');
  await waitFor(() => client.health().owned === 2);
  const running = client.health();
  expect(running).toMatchObject({ state: 'running', sessionValid: true, owned: 2, draining: false });
  expect(running.validityMsLeft).toBeGreaterThan(0);
  expect(running.validityMsLeft).toBeLessThanOrEqual(HEARTBEAT_MS);
  expect(running.lastHeartbeatAt).toBeGreaterThanOrEqual(beforeInit);
  expect(running.lastHeartbeatAt).toBeLessThanOrEqual(Date.now());
  // Heartbeats go on: the time of the last one moves.
  await waitFor(() => client.health().lastHeartbeatAt! > running.lastHeartbeatAt!);

  await client.drain({ timeoutMs: 2000 });
  expect(client.health()).toMatchObject({ draining: true, sessionValid: true });
  await client.resume();
  expect(client.health().draining).toBe(false);

  // Redis holds every write (heartbeats are scripts) for longer than the session: it ends, then is renewed.
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', String(3 * HEARTBEAT_MS), 'WRITE']);
  await waitFor(() => !client.health().sessionValid, { timeoutMs: 5000 });
  expect(client.health()).toMatchObject({ state: 'running', sessionValid: false, validityMsLeft: 0 });
  await waitFor(() => client.health().sessionValid, { timeoutMs: 10_000 });

  await client.close();
  expect(client.health()).toMatchObject({ state: 'stopped', sessionValid: false, validityMsLeft: 0, owned: 0 });
});
