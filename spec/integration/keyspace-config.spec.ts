import { expect, it } from 'vitest';
import { ConfigError, keysFor } from '../../lib/index.js';
import { sessionKey } from '../../lib/keys.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServerPerTest } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

// Each test starts its own server: the flags (and CONFIG itself) are what it is about.
const redis = useRedisServerPerTest();

async function flags(): Promise<string> {
  return (await redis.server.cli('CONFIG', 'GET', 'notify-keyspace-events')).split('\n')[1] ?? '';
}

/**
 * A consumer closing hands one stream to a peer, which hears of it only through the hand-off message on its session
 * key's channel, and leaves the other (the peer is at maxStreams), which the peer takes over only if it hears the
 * session expire: both within far less than the heartbeat.
 */
async function expectHandOver(): Promise<void> {
  const service = serviceName();
  const leaving = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 60_000 });
  await leaving.client.addStream('s1');
  await leaving.client.addStream('s2');
  await waitFor(() => leaving.log.added.length === 2);
  const staying = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 60_000, autoClaim: true, maxStreams: 1 });
  await leaving.client.close();
  await waitFor(() => staying.client.owned().length === 2, { timeoutMs: 3000 });
  expect(staying.log.added.map((lease) => lease.origin).sort()).toEqual(['handoff', 'takeover']);
}

it('adds the flags it needs and keeps every flag already set', async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Kg'] });
  await redis.fleet.consumer({ serviceName: serviceName() });
  expect([...(await flags())].sort().join('')).toBe([...'Kgx'].sort().join(''));
  await expectHandOver();
});

it('adds K and x when no flag is set', async () => {
  await redis.start();
  await redis.fleet.consumer({ serviceName: serviceName() });
  expect([...(await flags())].sort().join('')).toBe('Kx');
});

it('works with flags set beforehand while CONFIG is disabled (managed Redis)', async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Kx', '--rename-command', 'CONFIG', '""'] });
  await expectHandOver();
});

it('works with keyevent notifications only (E and x)', async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Ex'] });
  await expectHandOver();
  expect(await flags()).toBe('xE');
});

it('rejects init() with a ConfigError naming the setting when flags are off and CONFIG is refused', async () => {
  await redis.start({ args: ['--rename-command', 'CONFIG', '""'] });
  const { client } = await redis.fleet.consumer({ serviceName: serviceName() }, { start: false });
  const error = await client.init().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  expect(error).toMatchObject({ setting: 'notify-keyspace-events' });
  expect((error as Error).message).toMatch(/notify-keyspace-events.*K.*x/);
});

it('rejects init() when flags are off and configureKeyspaceEvents is false, changing nothing', async () => {
  await redis.start();
  const { client } = await redis.fleet.consumer({ serviceName: serviceName(), configureKeyspaceEvents: false }, { start: false });
  await expect(client.init()).rejects.toMatchObject({ setting: 'notify-keyspace-events' });
  expect(await flags()).toBe('');
});

it('sets the flags again after Redis restarts and forgets them', async () => {
  await redis.start();
  const { log } = await redis.fleet.consumer({ serviceName: serviceName() });
  await waitFor(async () => (await flags()).includes('x'));
  await redis.server.restart();
  await waitFor(async () => (await flags()).includes('x'), { timeoutMs: 15_000 });
  expect(log.errors.every((error) => !(error instanceof ConfigError))).toBe(true);
});

it("checks notifications without touching any consumer's session (CONFIG refused)", async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Kx', '--rename-command', 'CONFIG', '""'] });
  const service = serviceName();
  // A consumer whose id is another's id with the probe's old suffix.
  const bystander = await redis.fleet.consumer({ serviceName: service, consumerId: 'worker:probe', heartbeatMs: 60_000 });
  await redis.fleet.consumer({ serviceName: service, consumerId: 'worker', heartbeatMs: 60_000 });
  expect(await redis.admin.exists(sessionKey(keysFor(service), bystander.client.id()))).toBe(1);
});
