import { describe, expect, it } from 'vitest';
import { RedisStreamClientError } from '../../../lib/errors.js';
import { decodeInfo, decodeOutcomes } from '../../../lib/scripts/outcomes.js';

/** Collects what a decode reports instead of throwing. */
function reports(): { errors: RedisStreamClientError[]; report: (error: RedisStreamClientError) => void } {
  const errors: RedisStreamClientError[] = [];
  return { errors, report: (error) => errors.push(error) };
}

/** Decodes, failing the test on anything reported. */
function decodeClean(items: readonly unknown[]) {
  const { errors, report } = reports();
  const outcomes = decodeOutcomes(items, report);
  expect(errors).toEqual([]);
  return outcomes;
}

describe('decodeOutcomes', () => {
  it('decodes a granted tuple with the Info of its entry and its fencing token', () => {
    const raw = JSON.stringify({ DataStreamName: 'orders:1', Info: { region: 'eu', n: 3 } });
    expect(decodeClean([['granted', '1700000000000-0', 'orders:1', raw, 42]])).toEqual([
      { kind: 'granted', lbsId: '1700000000000-0', stream: 'orders:1', info: { region: 'eu', n: 3 }, token: 42 },
    ]);
  });

  it('decodes duplicate and dead tuples', () => {
    expect(
      decodeClean([
        ['duplicate', '1-0', 'orders:1'],
        ['dead', '2-0', 'lbs-input is not JSON'],
      ]),
    ).toEqual([
      { kind: 'duplicate', lbsId: '1-0', stream: 'orders:1' },
      { kind: 'dead', lbsId: '2-0', reason: 'lbs-input is not JSON' },
    ]);
  });

  it('keeps the order of a mixed reply', () => {
    const outcomes = decodeClean([
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
    expect(decodeClean([])).toEqual([]);
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
  ])('reports %s and skips it, keeping the items around it', (_label, item) => {
    const { errors, report } = reports();
    const outcomes = decodeOutcomes([['duplicate', '1-0', 'a'], item, ['granted', '3-0', 'b', '{"DataStreamName":"b"}', 7]], report);
    expect(outcomes.map((outcome) => [outcome.kind, outcome.lbsId])).toEqual([
      ['duplicate', '1-0'],
      ['granted', '3-0'],
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RedisStreamClientError);
    expect(errors[0]!.message).toMatch(/could not be decoded/);
  });

  // Redis's JSON decoder is more lenient than JSON.parse: an entry it admitted may not parse here. The grant stands
  // (the entry is pending under this consumer with a fencing token), so it becomes a lease without its Info.
  it.each([
    ['a raw control character in a string', '{"DataStreamName":"a","Info":{"k":"x\ty"}}'],
    ['NaN', '{"DataStreamName":"a","Info":{"k":NaN}}'],
    ['a hex number', '{"DataStreamName":"a","Info":{"k":0x10}}'],
    ['text that is not JSON', '{not json'],
    ['JSON that is not an object', '[1,2]'],
    ['null', 'null'],
  ])('grants an entry whose lbs-input is %s with info {}, reports it naming the entry, and keeps the rest of the batch', (_label, raw) => {
    const { errors, report } = reports();
    const outcomes = decodeOutcomes(
      [
        ['granted', '1-0', 'a', raw, 1],
        ['granted', '2-0', 'b', '{"DataStreamName":"b","Info":{"n":2}}', 2],
        ['dead', '3-0', 'bad'],
      ],
      report,
    );
    expect(outcomes).toEqual([
      { kind: 'granted', lbsId: '1-0', stream: 'a', info: {}, token: 1 },
      { kind: 'granted', lbsId: '2-0', stream: 'b', info: { n: 2 }, token: 2 },
      { kind: 'dead', lbsId: '3-0', reason: 'bad' },
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RedisStreamClientError);
    expect(errors[0]!.message).toContain('LBS entry 1-0');
    expect(errors[0]!.message).toContain('"a"');
  });
});

describe('decodeInfo', () => {
  it.each([
    ['missing', '{"DataStreamName":"a"}'],
    ['null', '{"DataStreamName":"a","Info":null}'],
    ['an empty array (how Lua encodes an empty object)', '{"DataStreamName":"a","Info":[]}'],
    ['an empty object', '{"DataStreamName":"a","Info":{}}'],
  ])('gives {} when Info is %s', (_label, raw) => {
    const { errors, report } = reports();
    expect(decodeInfo(raw, { lbsId: '1-0', stream: 'a' }, report)).toEqual({});
    expect(errors).toEqual([]);
  });

  it('returns the Info object as it is, nested values included', () => {
    const info = { region: 'eu', retries: 3, tags: ['a', 'b'], nested: { deep: true }, nothing: null };
    const { errors, report } = reports();
    expect(decodeInfo(JSON.stringify({ DataStreamName: 'a', Info: info }), { lbsId: '1-0', stream: 'a' }, report)).toEqual(info);
    expect(errors).toEqual([]);
  });

  it('gives {} for text that is not JSON and reports it, naming the entry', () => {
    const { errors, report } = reports();
    expect(decodeInfo('{"DataStreamName":', { lbsId: '1700000000000-3', stream: 'orders:1' }, report)).toEqual({});
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toContain('LBS entry 1700000000000-3 (stream "orders:1")');
    expect(errors[0]!.cause).toBeInstanceOf(SyntaxError);
  });
});
