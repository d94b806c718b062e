import pino from 'pino';
import { expect, it } from 'vitest';
import { DeadLetterError, keysFor, type Logger } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: unknown;
}

/** A logger that keeps what it is given, as pino or bunyan would receive it. */
function recordingLogger(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: unknown, message: unknown): void =>
      void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

it('logs as (fields, message): service and consumerId on every line, the error under err, its lbsId beside it', async () => {
  const service = serviceName();
  const { logger, lines } = recordingLogger();
  const connection = await redis.fleet.connect();
  const { client } = await redis.fleet.consumerOn(connection, { serviceName: service, consumerId: 'worker-1', logger }, { start: false });
  client.removeAllListeners('error'); // an error nobody listens to is what reaches logger.error
  await client.init();

  const badId = await connection.xAdd(keysFor(service).lbs, '*', { other: 'x' });
  await client.addStream('orders-1');

  const deadLetter = await waitFor(() => lines.find((line) => line.level === 'error'));
  expect(typeof deadLetter.message).toBe('string');
  expect(deadLetter.fields).toMatchObject({ service, consumerId: 'worker-1', lbsId: badId, reason: 'missing field lbs-input' });
  expect(deadLetter.fields.err).toBeInstanceOf(DeadLetterError);
  expect((deadLetter.fields.err as Error).stack).toContain('DeadLetterError');

  const admitted = await waitFor(() => lines.find((line) => line.level === 'debug' && line.fields.stream === 'orders-1'));
  expect(admitted.fields).toMatchObject({ service, consumerId: 'worker-1', origin: 'new', token: expect.any(Number) });
  for (const line of lines) {
    expect(line.fields).toMatchObject({ service, consumerId: 'worker-1' });
    expect(typeof line.message).toBe('string');
  }
});

it('warns at init() when manual mode has no streamExpired listener, and only then', async () => {
  const service = serviceName();
  const connection = await redis.fleet.connect();
  const unheard = recordingLogger();
  const { client } = await redis.fleet.consumerOn(connection, { serviceName: service, logger: unheard.logger }, { start: false });
  client.removeAllListeners('streamExpired');
  await client.init();
  expect(unheard.lines.filter((line) => line.level === 'warn').map((line) => line.message)).toEqual([
    expect.stringMatching(/no streamExpired listener/),
  ]);

  const heard = recordingLogger();
  await redis.fleet.consumerOn(connection, { serviceName: service, logger: heard.logger });
  const automatic = recordingLogger();
  const { client: auto } = await redis.fleet.consumerOn(connection, { serviceName: service, logger: automatic.logger, autoClaim: true }, { start: false });
  auto.removeAllListeners('streamExpired');
  await auto.init();
  expect([...heard.lines, ...automatic.lines].filter((line) => line.level === 'warn')).toEqual([]);
});

it('logs routine work at debug, start and stop at info, and takeovers, session losses and renewals at warn', async () => {
  const service = serviceName();
  const heartbeatMs = 600;
  const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs, rebalance: false });
  await redis.admin.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: 'orders-1' }) });
  await redis.admin.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: 'orders-2' }) });
  await waitFor(() => owner.owned().size === 2);
  const { logger, lines } = recordingLogger();
  const { client } = await redis.fleet.consumer({ serviceName: service, consumerId: 'survivor', heartbeatMs, autoClaim: true, rebalance: false, logger });
  expect(lines.find((line) => line.level === 'info' && line.message === 'Started')?.fields).toMatchObject({ owned: 0, heartbeatMs });

  owner.kill('SIGKILL');
  const takeover = await waitFor(() => lines.find((line) => line.level === 'warn' && /Took over/.test(String(line.message))), { timeoutMs: 10_000 });
  expect(takeover.fields).toMatchObject({ service, consumerId: 'survivor', previousOwner: owner.id, count: 2 });
  // One line per stream, at debug: a takeover of thousands of streams is one warning.
  expect(lines.filter((line) => line.level === 'debug' && line.message === 'Stream admitted')).toHaveLength(2);

  // Redis holds every write longer than the session: the session is lost, then renewed.
  await redis.admin.sendCommand(['CLIENT', 'PAUSE', String(3 * heartbeatMs), 'WRITE']);
  await waitFor(() => lines.some((line) => line.level === 'warn' && /^Session renewed/.test(String(line.message))), { timeoutMs: 10_000 });
  const warnings = lines.filter((line) => line.level === 'warn').map((line) => line.message);
  expect(warnings).toEqual([expect.stringMatching(/^Took over/), expect.stringMatching(/^Session lost/), expect.stringMatching(/^Session renewed/)]);

  await client.close();
  expect(lines.at(-1)).toMatchObject({ level: 'info', message: 'Stopped', fields: { how: 'close', failed: false } });
  expect(lines.filter((line) => line.level === 'error')).toEqual([]);
});

it('writes to pino as documented: one JSON line each, with service, consumerId, and err serialised with its stack', async () => {
  const service = serviceName();
  const written: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void written.push(JSON.parse(line) as Record<string, unknown>) });
  const connection = await redis.fleet.connect();
  const { client } = await redis.fleet.consumerOn(connection, { serviceName: service, consumerId: 'worker-1', logger: logger.child({ component: 'rsc' }) }, { start: false });
  client.removeAllListeners('error');
  await client.init();
  const badId = await connection.xAdd(keysFor(service).lbs, '*', { other: 'x' });
  await client.addStream('orders-1');

  const deadLetter = await waitFor(() => written.find((line) => line.level === 50));
  expect(deadLetter).toMatchObject({ component: 'rsc', service, consumerId: 'worker-1', lbsId: badId, err: { type: 'DeadLetterError' } });
  expect((deadLetter.err as { stack: string }).stack).toContain('DeadLetterError');
  await waitFor(() => written.find((line) => line.level === 20 && line.stream === 'orders-1'));
  expect(written.find((line) => line.msg === 'Started')).toMatchObject({ level: 30, service, consumerId: 'worker-1' });
  for (const line of written) expect(line).toMatchObject({ service, consumerId: 'worker-1', msg: expect.any(String) });
});
