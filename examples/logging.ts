// Run: npx tsx examples/logging.ts [--console]   (REDIS_URL defaults to redis://127.0.0.1:6379; LOG_LEVEL, default debug)
// The client's log through pino (JSON lines, the default here) or console: every line carries `service` and
// `consumerId`. Routine work is logged at debug (a stream admitted), start and stop at info, takeovers, session
// losses and renewals at warn, errors nobody listens to at error. Add a stream with examples/producer.ts, or kill
// (-9) another copy of this example to see a takeover.
import pino from 'pino';
import { createClient } from 'redis';
import { RedisStreamClient, type Logger } from 'redis-stream-client';
import { disconnect, stopOnSignals } from './shutdown-signals.js';

const level = process.env.LOG_LEVEL ?? 'debug';
const levels = ['debug', 'info', 'warn', 'error'];

function consoleLogger(): Logger {
  const ignore = (): void => {};
  // console prints the fields object, then the message; drop the levels below LOG_LEVEL.
  const at = (name: 'debug' | 'info' | 'warn' | 'error') => (levels.indexOf(name) >= levels.indexOf(level) ? console[name] : ignore);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// pino takes (fields, message) as the client writes them, serialises `err` with its stack, and has isLevelEnabled.
const logger: Logger = process.argv.includes('--console') ? consoleLogger() : pino({ level }).child({ component: 'redis-stream-client' });

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: true, logger });
// With an error listener the client does not log errors itself: log them here, with the same fields.
client.on('error', (err) => logger.warn({ service: 'orders', consumerId: client.id(), err }, err.message));
client.run({ eachEntry: () => undefined, isEnd: (entry) => entry.fields.end !== undefined });
await client.init();

stopOnSignals(async () => {
  await client.close();
  await disconnect(redis);
});
