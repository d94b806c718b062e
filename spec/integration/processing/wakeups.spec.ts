import { expect, it } from 'vitest';
import { addStream, type LogFields } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServerPerTest } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServerPerTest();

function recordingLogger(warnings: string[]) {
  const nothing = (): void => undefined;
  return { debug: nothing, info: nothing, error: nothing, warn: (_fields: LogFields, message: string) => void warnings.push(message) };
}

it('polls the owned streams, and says so, when stream writes are not announced and the flags may not be set', async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Kx'] });
  const service = serviceName();
  const warnings: string[] = [];
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service, configureKeyspaceEvents: false, logger: recordingLogger(warnings) });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, 'polled');
  await append(redis.admin, 'polled', 3);
  await waitFor(() => seen.count === 3);
  expect(seen.numbers('polled')).toEqual(upTo(3));
  expect(warnings.some((message) => /polled every 250 ms/.test(message))).toBe(true);
  expect(await redis.admin.configGet('notify-keyspace-events')).toEqual({ 'notify-keyspace-events': 'xK' });
});

it('listens for writes where CONFIG is refused but the flags are set, and says it polls until one is heard', async () => {
  await redis.start({ args: ['--notify-keyspace-events', 'Kxt', '--rename-command', 'CONFIG', '""'] });
  const service = serviceName();
  const seen = new Seen();
  const warnings: string[] = [];
  const { client } = await redis.fleet.consumer({ serviceName: service, logger: recordingLogger(warnings) });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, 'heard');
  await append(redis.admin, 'heard', 3);
  await waitFor(() => seen.count === 3);
  expect(seen.numbers('heard')).toEqual(upTo(3));
  expect(warnings.some((message) => /until a write is heard/.test(message))).toBe(true);
});

it('sets the flags for stream writes again after Redis restarts and forgets them', async () => {
  // The data survives the restart (the lease with it); the flags set with CONFIG SET do not.
  await redis.start({ args: ['--appendonly', 'yes'] });
  const service = serviceName();
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, 'restarted');
  await waitFor(() => client.owned().length === 1);
  await waitFor(async () => /t/.test((await redis.admin.configGet('notify-keyspace-events'))['notify-keyspace-events'] ?? ''));
  await redis.server.restart();
  await waitFor(async () => /t/.test((await redis.admin.configGet('notify-keyspace-events'))['notify-keyspace-events'] ?? ''), { timeoutMs: 15_000 });
  await append(redis.admin, 'restarted', 1);
  await waitFor(() => seen.count === 1, { timeoutMs: 15_000 });
});
