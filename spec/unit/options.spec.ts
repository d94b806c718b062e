import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { defaultLogger, type Logger } from '../../lib/logger.js';
import { parseOptions, parseTimeout } from '../../lib/options.js';

/** Runs parseOptions on a value it must refuse and returns the ConfigError. */
function refusal(input: unknown): ConfigError {
  try {
    parseOptions(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`parseOptions accepted ${String(input)}`);
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe('parseOptions defaults', () => {
  it('fills in every default from serviceName alone', () => {
    const options = parseOptions({ serviceName: 'orders' });
    expect(options).toMatchObject({
      serviceName: 'orders',
      heartbeatMs: 2000,
      autoClaim: false,
      maxEntryBytes: 65_536,
      configureKeyspaceEvents: true,
      maxStreams: Number.MAX_SAFE_INTEGER,
    });
    expect(options.logger).toEqual(defaultLogger);
  });

  it('the default logger is silent except for errors, which go to console.error', () => {
    const spies = (['debug', 'info', 'warn', 'error', 'log'] as const).map((level) => vi.spyOn(console, level).mockImplementation(() => {}));
    try {
      const { logger } = parseOptions({ serviceName: 'orders' });
      const fields = { service: 'orders', consumerId: 'worker-1' };
      logger.debug(fields, 'd');
      logger.info(fields, 'i');
      logger.warn(fields, 'w');
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      const detail = new Error('cause');
      logger.error({ ...fields, err: detail }, 'boom');
      expect(console.error).toHaveBeenCalledWith('[redis-stream-client] orders/worker-1: boom', detail);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('generates a consumerId with the host name and pid, different on every call', () => {
    const first = parseOptions({ serviceName: 'orders' }).consumerId;
    const second = parseOptions({ serviceName: 'orders' }).consumerId;
    for (const id of [first, second]) {
      expect(id).toContain(hostname());
      expect(id).toContain(String(process.pid));
    }
    expect(first).not.toBe(second);
  });

  it('keeps the values given', () => {
    const options = parseOptions({
      serviceName: 'orders',
      heartbeatMs: 500,
      consumerId: 'worker-1',
      autoClaim: true,
      maxStreams: 3,
      maxEntryBytes: 1024,
      configureKeyspaceEvents: false,
      logger: silent,
    });
    expect(options).toMatchObject({
      serviceName: 'orders',
      heartbeatMs: 500,
      consumerId: 'worker-1',
      autoClaim: true,
      maxStreams: 3,
      maxEntryBytes: 1024,
      configureKeyspaceEvents: false,
    });
    expect(options.logger).toBe(silent);
  });

  it('defaults the rebalancing options, releaseTimeoutMs to heartbeatMs, and tells whether consumerId was given', () => {
    expect(parseOptions({ serviceName: 'orders', heartbeatMs: 700 })).toMatchObject({
      rebalance: true,
      weight: 1,
      rebalanceTolerance: 0.1,
      releaseTimeoutMs: 700,
      restartGraceMs: 30_000,
      consumerIdGiven: false,
    });
    expect(parseOptions({ serviceName: 'orders', consumerId: 'pod-0', releaseTimeoutMs: 0, weight: 2.5 })).toMatchObject({
      consumerIdGiven: true,
      releaseTimeoutMs: 0,
      weight: 2.5,
    });
  });

  it('takes an explicit undefined as "use the default"', () => {
    expect(parseOptions({ serviceName: 'orders', heartbeatMs: undefined }).heartbeatMs).toBe(2000);
  });

  it('accepts console as a logger', () => {
    expect(parseOptions({ serviceName: 'orders', logger: console }).logger).toBe(console);
  });
});

describe('parseOptions refusals', () => {
  it.each([
    ['heartbeatMs', -1, '-1'],
    ['heartbeatMs', 0.5, '0.5'],
    ['heartbeatMs', '2000', '"2000"'],
    ['heartbeatMs', NaN, 'NaN'],
    ['heartbeatMs', 99, '99'],
    ['serviceName', '', '""'],
    ['serviceName', 'a{b}', '"a{b}"'],
    ['serviceName', 'a}b', '"a}b"'],
    ['serviceName', 42, '42'],
    ['maxEntryBytes', 10, '10'],
    ['maxStreams', 0, '0'],
    ['maxStreams', 1.5, '1.5'],
    ['consumerId', '', '""'],
    ['autoClaim', 'yes', '"yes"'],
    ['configureKeyspaceEvents', 1, '1'],
    ['rebalance', 'no', '"no"'],
    ['weight', 0, '0'],
    ['weight', -2, '-2'],
    ['weight', NaN, 'NaN'],
    ['weight', Number.POSITIVE_INFINITY, 'Infinity'],
    ['rebalanceTolerance', -0.1, '-0.1'],
    ['rebalanceTolerance', 11, '11'],
    ['releaseTimeoutMs', -1, '-1'],
    ['releaseTimeoutMs', 2.5, '2.5'],
    ['restartGraceMs', 0, '0'],
    ['restartGraceMs', '30s', '"30s"'],
  ])('%s = %j: ConfigError naming the option and the value', (option, value, shown) => {
    const error = refusal({ serviceName: 'orders', [option]: value });
    expect(error.setting).toBe(option);
    expect(error.message).toContain(`\`${option}\``);
    expect(error.message).toContain(shown);
  });

  it('a missing serviceName is named', () => {
    const error = refusal({});
    expect(error.setting).toBe('serviceName');
    expect(error.message).toContain('`serviceName`');
  });

  it('a logger missing methods is refused, naming the methods it needs', () => {
    const error = refusal({ serviceName: 'orders', logger: { info() {}, error() {} } });
    expect(error.setting).toBe('logger');
    expect(error.message).toContain('`logger`');
    expect(error.message).toMatch(/debug.*info.*warn.*error/);
  });

  it.each([null, 'string', 42])('a logger that is not an object (%j) is refused', (logger) => {
    const error = refusal({ serviceName: 'orders', logger });
    expect(error.setting).toBe('logger');
    expect(error.message).toContain(String(logger));
  });

  it('an unknown option is named, with setting set to it', () => {
    const error = refusal({ serviceName: 'orders', heartbeat: 2000 });
    expect(error.setting).toBe('heartbeat');
    expect(error.message).toContain('`heartbeat`');
  });

  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    ['orders', '"orders"'],
    [42, '42'],
    [[], '[]'],
  ])('options that are not an object (%j) are refused, showing what was given', (input, shown) => {
    const error = refusal(input);
    expect(error.message).toMatch(/object/);
    expect(error.message).toContain(shown);
  });

  it('shows NaN as NaN, not as null', () => {
    const error = refusal({ serviceName: 'orders', heartbeatMs: NaN });
    expect(error.message).toContain('got NaN');
  });
});

describe('the timeoutMs of init(), close() and done()', () => {
  it('defaults when not given, and takes a whole number of ms', () => {
    expect(parseTimeout(undefined, 5000)).toBe(5000);
    expect(parseTimeout(250, 5000)).toBe(250);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 3_600_001, '1000', null])('refuses %s, naming the option', (value) => {
    let error: unknown;
    try {
      parseTimeout(value, 5000);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ setting: 'timeoutMs', message: expect.stringMatching(/`timeoutMs`.*got/) });
  });
});
