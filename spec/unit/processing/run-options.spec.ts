import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors.js';
import { parseEntriesOptions, parseRunOptions } from '../../../lib/processing/run-options.js';

const eachEntry = (): void => undefined;
const eachBatch = (): void => undefined;

/** The ConfigError that `parse` throws for `input`. */
function refusal(parse: (input: unknown) => unknown, input: unknown): ConfigError {
  try {
    parse(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('run() options', () => {
  it('fill in every default around the handler', () => {
    expect(parseRunOptions({ eachEntry })).toEqual({
      eachEntry,
      handler: { kind: 'entry', call: eachEntry },
      startAt: 'first',
      commitIntervalMs: 100,
      batchSize: 100,
      concurrency: 16,
      maxAttempts: 3,
      trim: false,
      maxBufferedEntries: 10_000,
    });
    expect(parseRunOptions({ eachEntry }).isEnd).toBeUndefined();
  });

  it('keep what is given', () => {
    const isEnd = (): boolean => false;
    const given = {
      eachBatch, startAt: 'new', commitIntervalMs: 1, batchSize: 10_000, isEnd, concurrency: 100_000, maxAttempts: 1000,
      trim: true, maxBufferedEntries: 1,
    } as const;
    expect(parseRunOptions(given)).toEqual({ ...given, handler: { kind: 'batch', call: eachBatch } });
  });

  it('need exactly one of eachEntry and eachBatch (a TypeError)', () => {
    expect(() => parseRunOptions({})).toThrow(TypeError);
    expect(() => parseRunOptions({ concurrency: 2 })).toThrow(/exactly one of `eachEntry` and `eachBatch`/);
    expect(() => parseRunOptions({ eachEntry, eachBatch })).toThrow(TypeError);
    expect(() => parseRunOptions({ eachEntry: undefined, eachBatch: undefined })).toThrow(TypeError);
  });

  it.each([
    ['eachEntry', 'not a function'],
    ['eachBatch', 42],
    ['startAt', 'last'],
    ['startAt', '0-0'],
    ['commitIntervalMs', 0],
    ['commitIntervalMs', 3_600_001],
    ['commitIntervalMs', 1.5],
    ['commitIntervalMs', '100'],
    ['batchSize', 0],
    ['batchSize', 10_001],
    ['batchSize', Number.NaN],
    ['isEnd', true],
    ['concurrency', 0],
    ['concurrency', -1],
    ['concurrency', 100_001],
    ['concurrency', Number.POSITIVE_INFINITY],
    ['maxAttempts', 0],
    ['maxAttempts', 1001],
    ['maxAttempts', 2.5],
    ['trim', 'yes'],
    ['trim', 1],
    ['maxBufferedEntries', 0],
    ['maxBufferedEntries', 10_000_001],
    ['maxBufferedEntries', null],
  ])('refuse %s = %s with a ConfigError naming it', (setting, value) => {
    // The other handler is given so that only the bad option is wrong.
    const handler = setting === 'eachEntry' ? {} : { eachEntry };
    const error = refusal(parseRunOptions, { ...handler, [setting]: value });
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(`\`${setting}\``);
  });

  it('refuse an unknown option, naming it (a misspelling is not silently ignored)', () => {
    const error = refusal(parseRunOptions, { eachEntry, concurency: 4 });
    expect(error.setting).toBe('concurency');
    expect(error.message).toContain('Unknown option `concurency`');
    expect(refusal(parseRunOptions, { eachEntry, maxDeliveries: 3 }).setting).toBe('maxDeliveries');
  });

  it('refuse what is not an object', () => {
    for (const input of [undefined, null, 'eachEntry', eachEntry]) {
      expect(refusal(parseRunOptions, input).message).toMatch(/Expected options to be an object/);
    }
  });
});

describe('lease.entries() options', () => {
  it('fill in every default, given nothing or an empty object', () => {
    const defaults = { startAt: 'first', commitIntervalMs: 100, batchSize: 100 };
    expect(parseEntriesOptions(undefined)).toEqual(defaults);
    expect(parseEntriesOptions({})).toEqual(defaults);
    expect(parseEntriesOptions(undefined).isEnd).toBeUndefined();
  });

  it('keep what is given', () => {
    const isEnd = (): boolean => true;
    expect(parseEntriesOptions({ startAt: 'new', commitIntervalMs: 5, batchSize: 7, isEnd })).toEqual({ startAt: 'new', commitIntervalMs: 5, batchSize: 7, isEnd });
  });

  it.each([
    ['startAt', 'first entry'],
    ['commitIntervalMs', -5],
    ['batchSize', 0.5],
    ['isEnd', 'end'],
  ])('refuse %s = %s with a ConfigError naming it', (setting, value) => {
    expect(refusal(parseEntriesOptions, { [setting]: value }).setting).toBe(setting);
  });

  it('refuse the options only run() has, and unknown ones, naming them', () => {
    for (const setting of ['eachEntry', 'eachBatch', 'concurrency', 'maxAttempts', 'trim', 'maxBufferedEntries', 'batchsize']) {
      const error = refusal(parseEntriesOptions, { [setting]: setting.startsWith('each') ? eachEntry : 1 });
      expect(error.setting).toBe(setting);
      expect(error.message).toContain(`Unknown option \`${setting}\``);
    }
  });
});
