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
