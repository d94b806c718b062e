import { describe, expect, it } from 'vitest';
import { compareIds, idTime, isStreamId, nextId } from '../../../lib/processing/stream-id.js';

/** The largest value of either part of a stream id (2^64 - 1), as Redis allows. */
const MAX = '18446744073709551615';
/** 2^53 + 1 and 2^53: equal once made JavaScript numbers, different as stream id parts. */
const ABOVE_2_53 = '9007199254740993';
const AT_2_53 = '9007199254740992';

describe('isStreamId', () => {
  it('accepts complete ids whose parts fit in 64 bits', () => {
    for (const id of ['0-0', '0-1', '1700000000000-0', '1700000000000-42', `${MAX}-0`, `0-${MAX}`, `${MAX}-${MAX}`]) {
      expect(isStreamId(id), id).toBe(true);
    }
  });

  it('refuses a part of 2^64 or more', () => {
    for (const id of ['18446744073709551616-0', '0-18446744073709551616', `${MAX}0-0`, `1-${'9'.repeat(40)}`]) {
      expect(isStreamId(id), id).toBe(false);
    }
  });

  it('refuses incomplete, special, signed, spaced and otherwise malformed forms', () => {
    const malformed = [
      '', '1', '1-', '-1', '-', '+', '$', '>', '*', '1-*', '1--1', '-1-0', '+1-0', '1-+0', '1-0-0', '1.5-0', '1e3-0',
      '0x1-0', ' 1-0', '1-0 ', '1-0\n', '\n1-0', '1 -0', '１-0', '1_000-0', 'a-b', '1-0;2-0',
    ];
    for (const id of malformed) expect(isStreamId(id), JSON.stringify(id)).toBe(false);
  });

  it('refuses what is not a string', () => {
    for (const value of [undefined, null, 0, 1700000000000, 1n, ['1-0'], { toString: () => '1-0' }, new String('1-0')]) {
      expect(isStreamId(value), String(value)).toBe(false);
    }
  });
});

describe('compareIds', () => {
  it('orders by time first, then by sequence', () => {
    expect(compareIds('1-10', '2-0')).toBeLessThan(0);
    expect(compareIds('2-0', '1-10')).toBeGreaterThan(0);
    expect(compareIds('5-1', '5-2')).toBeLessThan(0);
    expect(compareIds('5-2', '5-1')).toBeGreaterThan(0);
    expect(compareIds('5-2', '5-2')).toBe(0);
  });

  it('compares numbers, not text', () => {
    expect(compareIds('10-0', '9-0')).toBeGreaterThan(0);
    expect(compareIds('1-10', '1-9')).toBeGreaterThan(0);
    expect(compareIds('100-0', '20-5')).toBeGreaterThan(0);
  });

  it('tells apart parts beyond 2^53, which JavaScript numbers would make equal', () => {
    expect(Number(ABOVE_2_53)).toBe(Number(AT_2_53));
    expect(compareIds(`${ABOVE_2_53}-0`, `${AT_2_53}-0`)).toBeGreaterThan(0);
    expect(compareIds(`1-${AT_2_53}`, `1-${ABOVE_2_53}`)).toBeLessThan(0);
    expect(compareIds(`${MAX}-${MAX}`, `${MAX}-18446744073709551614`)).toBeGreaterThan(0);
    expect(compareIds(`${MAX}-0`, `18446744073709551614-${MAX}`)).toBeGreaterThan(0);
    expect(compareIds(`${MAX}-${MAX}`, `${MAX}-${MAX}`)).toBe(0);
  });

  it('throws a TypeError naming a malformed id', () => {
    expect(() => compareIds('1-0', '1')).toThrow(TypeError);
    expect(() => compareIds('$', '1-0')).toThrow(/"\$"/);
  });
});

describe('nextId', () => {
  it('steps the sequence', () => {
    expect(nextId('0-0')).toBe('0-1');
    expect(nextId('1700000000000-41')).toBe('1700000000000-42');
  });

  it('steps exactly beyond 2^53', () => {
    expect(nextId(`1-${AT_2_53}`)).toBe(`1-${ABOVE_2_53}`);
    expect(nextId(`${ABOVE_2_53}-7`)).toBe(`${ABOVE_2_53}-8`);
  });

  it('goes on to the next millisecond when the sequence is at its largest', () => {
    expect(nextId(`1700000000000-${MAX}`)).toBe('1700000000001-0');
    expect(nextId(`${AT_2_53}-${MAX}`)).toBe(`${ABOVE_2_53}-0`);
    // Nothing comes after the largest id: trimming up to it keeps it.
    expect(nextId(`${MAX}-${MAX}`)).toBe(`${MAX}-${MAX}`);
  });

  it('is the smallest id after the one given', () => {
    for (const id of ['0-0', '5-9', `7-${MAX}`, `${AT_2_53}-${AT_2_53}`]) {
      expect(compareIds(nextId(id), id)).toBeGreaterThan(0);
    }
    expect(compareIds(nextId('5-9'), '5-10')).toBe(0);
    expect(compareIds(nextId(`7-${MAX}`), '8-0')).toBe(0);
  });

  it('throws a TypeError on a malformed id', () => {
    expect(() => nextId('5')).toThrow(TypeError);
  });
});

describe('idTime', () => {
  it('is the time part in ms since the epoch', () => {
    expect(idTime('1700000000000-5')).toBe(1_700_000_000_000);
    expect(idTime('0-99')).toBe(0);
    expect(new Date(idTime('1700000000000-0')).toISOString()).toBe('2023-11-14T22:13:20.000Z');
  });

  it('throws a TypeError on a malformed id', () => {
    expect(() => idTime('1700000000000')).toThrow(TypeError);
  });
});
