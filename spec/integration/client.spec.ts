import { expect, it } from 'vitest';
import { createClient as createClient6 } from 'redis6';
import { createClient } from '../support/node-redis.js';
import {
  ConfigError,
  NotOwnerError,
  NotRunningError,
  RedisStreamClient,
  addStream,
  keysFor,
} from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';
import { clientList } from '../support/redis-clients.js';

const redis = useRedisServer();

async function pendingCount(service: string): Promise<number> {
  const keys = keysFor(service);
  return (await redis.admin.xPending(keys.lbs, keys.group)).pending;
}

it('doneStream and done() leave no pending or LBS entry, and done() leaves the group', async () => {
  const service = serviceName();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  for (let i = 0; i < 6; i++) await client.addStream(`s${i}`);
  await waitFor(() => log.added.length === 6);

  await client.doneStream('s0');
  expect(client.owned().map((lease) => lease.stream)).not.toContain('s0');
  await expect(client.doneStream('s0')).rejects.toBeInstanceOf(NotOwnerError);
  await expect(client.doneStream('never-added')).rejects.toBeInstanceOf(NotOwnerError);
  expect(await pendingCount(service)).toBe(5);

  await client.done();
  const keys = keysFor(service);
  expect(await pendingCount(service)).toBe(0);
  expect(await redis.admin.xLen(keys.lbs)).toBe(0);
  expect(await redis.admin.exists(`${keys.sessionPrefix}${client.id()}`)).toBe(0);
  expect(await redis.admin.hLen(keys.owners)).toBe(0);
  expect(await redis.admin.xInfoConsumers(keys.lbs, keys.group)).toEqual([]);
  await expect(client.doneStream('s1')).rejects.toBeInstanceOf(NotRunningError);
});

it('issues fencing tokens that increase with every grant, across owners', async () => {
  const service = serviceName();
  const first = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  for (let i = 0; i < 5; i++) await addStream(redis.admin, service, `s${i}`);
  await waitFor(() => first.log.added.length === 5);
  const tokens = first.log.added.map((lease) => lease.token);
  expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
  expect(new Set(tokens).size).toBe(5);

  const second = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000, autoClaim: true });
  await first.client.close();
  await waitFor(() => second.client.owned().length === 5, { timeoutMs: 5000 });
  for (const lease of second.client.owned()) {
    const before = first.log.added.find((old) => old.stream === lease.stream)!;
    expect(lease.token).toBeGreaterThan(before.token);
    expect(lease.token).toBeGreaterThan(Math.max(...tokens));
  }
});

it('takes back, after a restart under the same consumerId, what the previous process held', async () => {
  const service = serviceName();
  const consumerId = 'worker-1';
  const before = await redis.spawnConsumer({ serviceName: service, consumerId, heartbeatMs: 500 });
  for (let i = 0; i < 4; i++) await addStream(redis.admin, service, `s${i}`);
  await waitFor(() => before.owned().size === 4);
  before.kill('SIGKILL');
  await before.exited;

  const after = await redis.fleet.consumer({ serviceName: service, consumerId, heartbeatMs: 500 });
  await waitFor(() => after.log.added.length === 4);
  expect(after.log.added.every((lease) => lease.recovered)).toBe(true);
  for (const lease of after.log.added) {
    const earlier = before.reports.find((report) => report.event === 'streamAdded' && report.stream === lease.stream);
    expect(lease.token).toBeGreaterThan(earlier?.event === 'streamAdded' ? earlier.token : Infinity);
  }
});

it('refuses a second live client with the same consumerId', async () => {
  const service = serviceName();
  await redis.fleet.consumer({ serviceName: service, consumerId: 'twin', heartbeatMs: 300 });
  const twin = await redis.fleet.consumer({ serviceName: service, consumerId: 'twin', heartbeatMs: 300 }, { start: false });
  await expect(twin.client.init()).rejects.toMatchObject({ setting: 'consumerId' });
});

it('keeps running when listeners throw or reject, and reports them as errors', async () => {
  const service = serviceName();
  const { client, log } = await redis.fleet.consumer({ serviceName: service }, { start: false });
  client.on('streamAdded', () => {
    throw new Error('sync failure');
  });
  client.on('streamAdded', () => Promise.reject(new Error('async failure')));
  await client.init();
  await addStream(redis.admin, service, 'a');
  await addStream(redis.admin, service, 'b');
  await waitFor(() => log.added.length === 2 && log.errors.length === 1);
  // The other three are of the same kind: held back, and counted in the summary that close() delivers.
  await client.close();
  expect(log.errors.map((error) => error.message)).toEqual([
    'A streamAdded listener failed: Error: sync failure',
    expect.stringMatching(/^3 more errors of kind ListenerError:streamAdded\(Error\) in the last [\d.]+ s; the last: A streamAdded listener failed: Error: async failure$/),
  ]);
});

it('rejects init() with a ConfigError while the client is not connected, and may be tried again', async () => {
  const closed = createClient({ url: redis.server.url });
  const client = new RedisStreamClient(closed, { serviceName: serviceName() });
  const failure = await client.init().catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(ConfigError);
  expect(failure).toMatchObject({ setting: 'redis', message: expect.stringMatching(/not connected: call its connect\(\) before init\(\)/) });
  await closed.connect();
  try {
    await client.init();
    expect(client.owned()).toEqual([]);
    await client.close();
    await expect(client.init()).rejects.toThrow(/not started yet \(this one is stopped\)/);
  } finally {
    await closed.disconnect();
  }
});

it('works on a client of any protocol and command timeout: its own connections speak RESP2 and wait out a pause', async () => {
  const service = serviceName();
  // RESP3 (node-redis 6's default), and a command timeout that also cuts short commands already sent.
  const user = createClient6({ url: redis.server.url, name: service, commandOptions: { timeout: 200, rejectInFlight: true } });
  await user.connect();
  try {
    const { client, log } = await redis.fleet.consumerOn(user as never, { serviceName: service, heartbeatMs: 6000 });
    const userId = String(await user.clientId());
    const own = (await clientList(redis.admin)).filter((connection) => connection.name === service && connection.id !== userId);
    expect(own.length).toBeGreaterThanOrEqual(4);
    expect(own.map((connection) => connection.resp)).toEqual(own.map(() => '2'));
    // Redis answers nothing for 2.5 s: every command sent meanwhile (a heartbeat goes out every 2 s) waits longer
    // than the user's timeout, and must not fail for it.
    const heartbeats = await evalCalls();
    await redis.admin.sendCommand(['CLIENT', 'PAUSE', '2500', 'ALL']);
    await waitFor(async () => (await evalCalls()) >= heartbeats + 2, { timeoutMs: 10_000 });
    await client.addStream('after-the-pause');
    await waitFor(() => log.added.length === 1);
    expect(log.errors).toEqual([]);
  } finally {
    await user.close();
  }
});

/** How many script calls the server ran (heartbeats among them): INFO commandstats. */
async function evalCalls(): Promise<number> {
  const stats = String(await redis.admin.sendCommand(['INFO', 'commandstats']));
  return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, [, calls]) => sum + Number(calls), 0);
}

it('takes back an entry whose grant reply was lost, once an error says replies may have been lost', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const { client, log } = await redis.fleet.consumer({ serviceName: service, maxStreams: 1 });
  await addStream(redis.admin, service, 'first');
  await waitFor(() => log.added.length === 1);
  // An entry delivered to this consumer whose reply never reached it (as when a socket dies mid-reply).
  await addStream(redis.admin, service, 'lost-reply');
  await redis.admin.xReadGroup(keys.group, client.id(), { key: keys.lbs, id: '>' }, { COUNT: 1 });
  await redis.admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);

  await waitFor(() => log.added.some((lease) => lease.stream === 'lost-reply'), { timeoutMs: 8000 });
  const stray = log.added.find((lease) => lease.stream === 'lost-reply')!;
  expect(stray.recovered).toBe(true);
  expect(stray.token).toBeGreaterThan(log.added[0]!.token);
});

it('falls back to EVAL when Redis has lost its scripts (SCRIPT FLUSH)', async () => {
  const service = serviceName();
  const { log } = await redis.fleet.consumer({ serviceName: service });
  await addStream(redis.admin, service, 'before');
  await waitFor(() => log.added.length === 1);
  await redis.admin.scriptFlush();
  await addStream(redis.admin, service, 'after');
  await waitFor(() => log.added.length === 2);
  expect(log.errors).toEqual([]);
});
