import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../lib/producer.js';

describe('encodeEntry', () => {
  it("writes the Go library's format: DataStreamName then Info", () => {
    expect(encodeEntry('orders:1', { region: 'eu', retries: 2 })).toBe(
      '{"DataStreamName":"orders:1","Info":{"region":"eu","retries":2}}',
    );
  });

  it('writes an empty Info object when none is given', () => {
    expect(encodeEntry('orders:1')).toBe('{"DataStreamName":"orders:1","Info":{}}');
    expect(encodeEntry('orders:1', undefined)).toBe('{"DataStreamName":"orders:1","Info":{}}');
  });

  it('round-trips names and nested Info through JSON', () => {
    const info = { nested: { list: [1, 'two', null], flag: true }, quote: 'say "hi"' };
    const stream = 'weird "name" \\ with ünïcode';
    expect(JSON.parse(encodeEntry(stream, info))).toEqual({ DataStreamName: stream, Info: info });
  });

  it('rejects an empty stream name', () => {
    expect(() => encodeEntry('')).toThrow(TypeError);
    expect(() => encodeEntry('')).toThrow(/stream/);
  });

  it.each([undefined, null, 42])('rejects a stream name that is not a string (%j)', (stream) => {
    expect(() => encodeEntry(stream as unknown as string)).toThrow(TypeError);
  });
});
