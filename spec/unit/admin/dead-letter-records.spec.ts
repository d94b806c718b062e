import { describe, expect, it } from 'vitest';
import { decodeDeadLetter, parseRange, type FieldPairs } from '../../../lib/admin/dead-letter-records.js';

const ID = '1700000000000-0';
const input = JSON.stringify({ DataStreamName: 'order-42', Info: { region: 'eu' } });
const lbs = (fields: FieldPairs) => decodeDeadLetter('lbs', { id: ID, fields });
const entry = (fields: FieldPairs) => decodeDeadLetter('entries', { id: ID, fields });

describe('parseRange', () => {
  it('reads an XRANGE reply as ids with their field pairs, in order, repeated names kept', () => {
    expect(parseRange([[ID, ['a', '1', 'b', '2', 'a', '3']], ['1700000000000-1', []]])).toEqual([
      { id: ID, fields: [['a', '1'], ['b', '2'], ['a', '3']] },
      { id: '1700000000000-1', fields: [] },
    ]);
  });

  it('refuses a reply of another shape, naming it', () => {
    expect(() => parseRange('OK')).toThrow(/Expected a stream range reply from Redis, got "OK"/);
    expect(() => parseRange([[ID, ['odd']]])).toThrow(/stream range reply/);
  });
});

describe('decodeDeadLetter of the LBS dead-letter stream', () => {
  it("decodes the reason, the LBS id, the entry's own fields and the stream it names", () => {
    expect(lbs([['reason', 'its owners died 3 times (maxDeliveries 3)'], ['lbs-id', '1699999999999-5'], ['lbs-input', input], ['origin', 'test']])).toEqual({
      kind: 'lbs',
      id: ID,
      reason: 'its owners died 3 times (maxDeliveries 3)',
      lbsId: '1699999999999-5',
      truncated: {},
      fields: [['lbs-input', input], ['origin', 'test']],
      stream: 'order-42',
    });
  });

  it('decodes the sizes of the values that were cut', () => {
    const decoded = lbs([['reason', 'too large'], ['lbs-id', '1-0'], ['truncated', '{"lbs-input":1048576,"note":100000}'], ['lbs-input', '{"Data'], ['note', 'nn']]);
    expect(decoded).toMatchObject({ kind: 'lbs', truncated: { 'lbs-input': 1048576, note: 100000 }, fields: [['lbs-input', '{"Data'], ['note', 'nn']], stream: undefined });
  });

  it("keeps a first own field named truncated that is no truncation record as the entry's own", () => {
    const decoded = lbs([['reason', 'r'], ['lbs-id', '1-0'], ['truncated', 'yes'], ['lbs-input', input]]);
    expect(decoded).toMatchObject({ kind: 'lbs', truncated: {}, fields: [['truncated', 'yes'], ['lbs-input', input]], stream: 'order-42' });
  });

  it('gives no stream for an lbs-input that is not JSON naming one', () => {
    for (const value of ['not json', '[]', '{"DataStreamName":""}', '{"DataStreamName":7}']) {
      expect(lbs([['reason', 'r'], ['lbs-id', '1-0'], ['lbs-input', value]])).toMatchObject({ kind: 'lbs', stream: undefined });
    }
    expect(lbs([['reason', 'missing field lbs-input'], ['lbs-id', '1-0'], ['other', 'x']])).toMatchObject({ kind: 'lbs', stream: undefined });
  });

  it('reports a record not in the format as malformed, with its raw fields', () => {
    const cases: Array<[FieldPairs, RegExp]> = [
      [[], /first field is not `reason`/],
      [[['lbs-input', input]], /first field is not `reason`/],
      [[['reason', 'r']], /second field is not `lbs-id`/],
      [[['reason', 'r'], ['lbs-id', 'abc']], /lbs-id "abc" is not a stream id/],
    ];
    for (const [fields, problem] of cases) {
      const decoded = lbs(fields);
      expect(decoded).toEqual({ kind: 'malformed', id: ID, problem: expect.stringMatching(problem), raw: fields });
    }
  });
});

describe('decodeDeadLetter of the entry dead-letter stream', () => {
  const record: FieldPairs = [['stream', 'order-42'], ['id', '1700000000000-3'], ['attempts', '3'], ['error', 'boom'], ['fields', '{"n":"1","__proto__":"p"}']];

  it('decodes the stream, the entry id, the attempts, the error and the fields', () => {
    const decoded = entry(record);
    expect(decoded).toMatchObject({ kind: 'entries', id: ID, stream: 'order-42', entryId: '1700000000000-3', attempts: 3, error: 'boom' });
    expect(decoded.kind === 'entries' && Object.entries(decoded.fields)).toEqual([['n', '1'], ['__proto__', 'p']]);
  });

  it('reports a record not in the format as malformed, with its raw fields', () => {
    const replaced = (name: string, value: string | undefined): FieldPairs =>
      record.flatMap(([field, old]) => (field !== name ? [[field, old] as const] : value === undefined ? [] : [[field, value] as const]));
    const cases: Array<[FieldPairs, RegExp]> = [
      [replaced('stream', undefined), /no field `stream`/],
      [replaced('stream', ''), /stream is empty/],
      [replaced('id', '12'), /id "12" is not a stream id/],
      [replaced('attempts', 'three'), /attempts "three" is not a positive integer/],
      [replaced('attempts', '0'), /attempts "0"/],
      [replaced('error', undefined), /no field `error`/],
      [replaced('fields', '{"n":'), /fields are not a JSON object/],
      [replaced('fields', '["n"]'), /fields are not a JSON object/],
      [replaced('fields', '{"n":1}'), /fields are not all strings/],
    ];
    for (const [fields, problem] of cases) {
      expect(entry(fields)).toEqual({ kind: 'malformed', id: ID, problem: expect.stringMatching(problem), raw: fields });
    }
  });
});
