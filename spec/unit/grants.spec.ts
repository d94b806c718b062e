import { describe, expect, it } from 'vitest';
import { decodeInfo, decodeOutcomes } from '../../lib/grants.js';

describe('decodeOutcomes', () => {
  it('decodes a granted tuple with the Info of its entry and its fencing token', () => {
    const raw = JSON.stringify({ DataStreamName: 'orders:1', Info: { region: 'eu', n: 3 } });
    expect(decodeOutcomes([['granted', '1700000000000-0', 'orders:1', raw, 42]])).toEqual([
      { kind: 'granted', lbsId: '1700000000000-0', stream: 'orders:1', info: { region: 'eu', n: 3 }, token: 42 },
    ]);
  });

  it('decodes duplicate and dead tuples', () => {
    expect(
      decodeOutcomes([
        ['duplicate', '1-0', 'orders:1'],
        ['dead', '2-0', 'lbs-input is not JSON'],
      ]),
    ).toEqual([
      { kind: 'duplicate', lbsId: '1-0', stream: 'orders:1' },
      { kind: 'dead', lbsId: '2-0', reason: 'lbs-input is not JSON' },
    ]);
  });

  it('keeps the order of a mixed reply', () => {
    const outcomes = decodeOutcomes([
      ['dead', '1-0', 'bad'],
      ['granted', '2-0', 'a', '{"DataStreamName":"a"}', 1],
      ['duplicate', '3-0', 'a'],
      ['granted', '4-0', 'b', '{"DataStreamName":"b","Info":{}}', 2],
    ]);
    expect(outcomes.map((outcome) => [outcome.kind, outcome.lbsId])).toEqual([
      ['dead', '1-0'],
      ['granted', '2-0'],
      ['duplicate', '3-0'],
      ['granted', '4-0'],
    ]);
  });

  it('gives [] for no items', () => {
    expect(decodeOutcomes([])).toEqual([]);
  });

  it.each([
    ['an unknown kind', ['taken', '1-0', 'orders:1']],
    ['a token as a string', ['granted', '1-0', 'orders:1', '{}', '42']],
    ['a granted tuple without token', ['granted', '1-0', 'orders:1', '{}']],
    ['a granted tuple with an extra element', ['granted', '1-0', 'orders:1', '{}', 42, 'extra']],
    ['a dead tuple without reason', ['dead', '1-0']],
    ['a duplicate tuple with a numeric id', ['duplicate', 1, 'orders:1']],
    ['a string', 'granted'],
    ['null', null],
    ['an empty array', []],
  ])('throws on %s', (_label, item) => {
    expect(() => decodeOutcomes([item])).toThrow();
  });

  it('throws when one item of many is malformed', () => {
    expect(() => decodeOutcomes([['duplicate', '1-0', 'a'], ['dead']])).toThrow();
  });

  it('throws when a granted entry is not JSON', () => {
    expect(() => decodeOutcomes([['granted', '1-0', 'a', '{not json', 1]])).toThrow();
  });
});

describe('decodeInfo', () => {
  it.each([
    ['missing', '{"DataStreamName":"a"}'],
    ['null', '{"DataStreamName":"a","Info":null}'],
    ['an empty array (how Lua encodes an empty object)', '{"DataStreamName":"a","Info":[]}'],
    ['an empty object', '{"DataStreamName":"a","Info":{}}'],
  ])('gives {} when Info is %s', (_label, raw) => {
    expect(decodeInfo(raw)).toEqual({});
  });

  it('returns the Info object as it is, nested values included', () => {
    const info = { region: 'eu', retries: 3, tags: ['a', 'b'], nested: { deep: true }, nothing: null };
    expect(decodeInfo(JSON.stringify({ DataStreamName: 'a', Info: info }))).toEqual(info);
  });

  it('throws on text that is not JSON', () => {
    expect(() => decodeInfo('{"DataStreamName":')).toThrow();
  });
});
