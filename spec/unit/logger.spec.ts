import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientLog } from '../../lib/client-log.js';
import { DeadLetterError, RedisStreamClientError } from '../../lib/errors.js';
import { defaultLogger, type LogFields, type Logger } from '../../lib/logger.js';

interface Line {
  level: string;
  fields: LogFields;
  message: string;
}

function recording(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: LogFields, message: string): void =>
      void lines.push({ level, fields, message });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ClientLog', () => {
  it('writes (fields, message) with service and consumerId on every line, at each level', () => {
    const { logger, lines } = recording();
    const log = new ClientLog(logger, 'orders', 'worker-1');
    log.debug('Stream admitted', { stream: 's1', lbsId: '1-0' });
    log.info('Dropped an LBS entry');
    log.warn('moved');
    log.error('failed');
    expect(lines).toEqual([
      { level: 'debug', message: 'Stream admitted', fields: { service: 'orders', consumerId: 'worker-1', stream: 's1', lbsId: '1-0' } },
      { level: 'info', message: 'Dropped an LBS entry', fields: { service: 'orders', consumerId: 'worker-1' } },
      { level: 'warn', message: 'moved', fields: { service: 'orders', consumerId: 'worker-1' } },
      { level: 'error', message: 'failed', fields: { service: 'orders', consumerId: 'worker-1' } },
    ]);
  });

  it('puts the Error object itself under err, and lends its identifying fields to the line', () => {
    const { logger, lines } = recording();
    const error = new DeadLetterError('1700000000000-0', 'missing field lbs-input');
    new ClientLog(logger, 'orders', 'worker-1').error(error.message, { err: error });
    const [line] = lines;
    expect(line!.fields.err).toBe(error);
    expect((line!.fields.err as Error).stack).toContain('DeadLetterError');
    expect(line!.fields).toMatchObject({ service: 'orders', consumerId: 'worker-1', lbsId: '1700000000000-0', reason: 'missing field lbs-input' });
  });

  it('a logger that throws does not break the caller', () => {
    const throwing: Logger = {
      debug: () => {
        throw new Error('logger down');
      },
      info() {},
      warn() {},
      error() {},
    };
    expect(() => new ClientLog(throwing, 'orders', 'worker-1').debug('x')).not.toThrow();
  });

  it('console works as a logger: each console method gets the fields and the message', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    new ClientLog(console, 'orders', 'worker-1').warn('moved', { node: '10.0.0.2:6379' });
    expect(warn).toHaveBeenCalledWith({ service: 'orders', consumerId: 'worker-1', node: '10.0.0.2:6379' }, 'moved');
  });

  it("builds no line for a level the logger says is off (isLevelEnabled, as pino's and winston's), nor asks an error to lend its fields", () => {
    const { logger, lines } = recording();
    const asked: Array<[string, unknown]> = [];
    const leveled: Logger = {
      ...logger,
      isLevelEnabled(this: unknown, level) {
        asked.push([level, this]);
        return level !== 'debug';
      },
    };
    const err = new Proxy(new Error('x'), {
      get: (target, property) => {
        if (property === 'lbsId') throw new Error('read an error of a line not written');
        return Reflect.get(target, property) as unknown;
      },
    });
    const log = new ClientLog(leveled, 'orders', 'worker-1');
    log.debug('Stream admitted', { err });
    log.info('kept');
    expect(lines.map(({ level, message }) => [level, message])).toEqual([['info', 'kept']]);
    expect(asked).toEqual([['debug', leveled], ['info', leveled]]);
  });

  it('writes every level when the logger cannot tell (no isLevelEnabled, or it throws)', () => {
    const { logger, lines } = recording();
    const throwing: Logger = {
      ...logger,
      isLevelEnabled: () => {
        throw new Error('broken');
      },
    };
    new ClientLog(logger, 'orders', 'worker-1').debug('one');
    new ClientLog(throwing, 'orders', 'worker-1').debug('two');
    expect(lines.map(({ message }) => message)).toEqual(['one', 'two']);
  });

  it('calls the logger as a method, as pino and bunyan need (`this` is the logger)', () => {
    const seen: unknown[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error(this: unknown) {
        seen.push(this);
      },
    };
    new ClientLog(logger, 'orders', 'worker-1').error('x');
    expect(seen).toEqual([logger]);
  });
});

describe('defaultLogger', () => {
  it('prints an error readably: prefix, service/consumer, message, fields, then the error with its stack', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const failure = new RedisStreamClientError('Redis is unreachable');
    defaultLogger.error({ service: 'orders', consumerId: 'worker-1', err: failure, lbsId: '1-0', reason: 'has spaces' }, 'It failed');
    expect(error).toHaveBeenCalledWith('[redis-stream-client] orders/worker-1: It failed (lbsId=1-0 reason="has spaces")', failure);
    defaultLogger.error({ service: 'orders', consumerId: 'worker-1' }, 'No error');
    expect(error).toHaveBeenLastCalledWith('[redis-stream-client] orders/worker-1: No error');
  });

  it('says which levels it writes, so that the client builds no line it would drop', () => {
    expect((['debug', 'info', 'warn', 'error'] as const).filter((level) => defaultLogger.isLevelEnabled?.(level))).toEqual(['error']);
  });

  it('is silent below error', () => {
    const spies = (['debug', 'info', 'warn', 'log', 'error'] as const).map((level) => vi.spyOn(console, level).mockImplementation(() => {}));
    const fields = { service: 'orders', consumerId: 'worker-1' };
    defaultLogger.debug(fields, 'd');
    defaultLogger.info(fields, 'i');
    defaultLogger.warn(fields, 'w');
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});
