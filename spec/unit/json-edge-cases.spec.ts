import { describe, expect, it } from 'vitest';
import { Random } from '../support/chaos-random.js';
import { DEEP_NESTING, EDGE_KINDS, jsonEdgeCases, type JsonEdgeCase } from '../support/json-edge-cases.js';

const MAX_ENTRY_BYTES = 65_536;

function parses(raw: string): boolean {
  try {
    JSON.parse(raw);
    return true;
  } catch {
    return false;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A string or key with an unpaired UTF-16 surrogate, which Redis's JSON decoder refuses. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (isObject(value)) return Object.entries(value).some(([key, item]) => LONE_SURROGATE.test(key) || hasLoneSurrogate(item));
  return false;
}

/** The library's definition of a well-formed LBS entry (docs/security.md), written out again independently of the
 * generator's tags: JSON.parse and Redis's decoder both accept it (at most 1,000 levels, no lone surrogates). */
function wellFormed(raw: string, maxEntryBytes: number): boolean {
  if (Buffer.byteLength(raw, 'utf8') > maxEntryBytes || !parses(raw) || depth(raw) > 1000) return false;
  const doc: unknown = JSON.parse(raw);
  if (!isObject(doc) || hasLoneSurrogate(doc)) return false;
  const name = Object.getOwnPropertyDescriptor(doc, 'DataStreamName')?.value as unknown;
  if (typeof name !== 'string' || name === '') return false;
  const info = Object.getOwnPropertyDescriptor(doc, 'Info')?.value as unknown;
  return info === undefined || info === null || isObject(info) || (Array.isArray(info) && info.length === 0);
}

/** A character JSON forbids raw inside strings (U+0000-U+001F). */
const isControl = (char: string): boolean => char.charCodeAt(0) < 0x20;

function depth(raw: string): number {
  let deepest = 0;
  let current = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++current);
    else if (c === ']' || c === '}') current--;
  }
  return deepest;
}

describe('jsonEdgeCases', () => {
  const seeds = [1, 2, 3, 20261128, 0xdeadbeef];
  const runs = seeds.map((seed) => jsonEdgeCases(new Random(seed), { maxEntryBytes: MAX_ENTRY_BYTES }));
  const every = runs.flat();
  const ofKind = (pattern: RegExp): JsonEdgeCase[] => every.filter((c) => pattern.test(c.kind));

  it('gives every kind once, under names of its own', () => {
    for (const cases of runs) {
      expect(cases.map((c) => c.kind).sort()).toEqual([...EDGE_KINDS].sort());
      const streams = cases.flatMap((c) => (c.stream === undefined ? [] : [c.stream]));
      expect(new Set(streams).size).toBe(streams.length);
    }
  });

  it('is replayed by its seed and varies with it', () => {
    expect(jsonEdgeCases(new Random(42), { maxEntryBytes: MAX_ENTRY_BYTES })).toEqual(jsonEdgeCases(new Random(42), { maxEntryBytes: MAX_ENTRY_BYTES }));
    expect(runs[0]!.map((c) => c.kind)).not.toEqual(runs[1]!.map((c) => c.kind));
  });

  it('tags whether JSON.parse accepts each case truly', () => {
    for (const c of every) expect({ kind: c.kind, jsonParses: parses(c.raw) }).toEqual({ kind: c.kind, jsonParses: c.jsonParses });
  });

  it('tags whether each case is a well-formed LBS entry truly, and names its stream as JSON.parse reads it', () => {
    for (const c of every) {
      expect({ kind: c.kind, wellFormed: wellFormed(c.raw, MAX_ENTRY_BYTES) }).toEqual({ kind: c.kind, wellFormed: c.wellFormed });
      if (c.wellFormed) expect((JSON.parse(c.raw) as { DataStreamName: string }).DataStreamName).toBe(c.stream);
      else expect(c.stream).toBeUndefined();
    }
  });

  it('has both verdicts in every combination that can occur', () => {
    expect(every.some((c) => c.wellFormed)).toBe(true);
    expect(every.some((c) => c.jsonParses && !c.wellFormed)).toBe(true);
    expect(every.some((c) => !c.jsonParses)).toBe(true);
    expect(every.some((c) => !c.jsonParses && c.wellFormed)).toBe(false);
  });

  it('puts raw control characters in strings, escaped ones too', () => {
    for (const c of ofKind(/^raw TAB/)) expect(c.raw).toContain('\t');
    for (const c of ofKind(/^raw NUL/)) expect(c.raw).toContain('\0');
    for (const c of ofKind(/^raw control/)) expect([...c.raw].some(isControl)).toBe(true);
    for (const c of ofKind(/^escaped TAB and NUL/)) {
      expect([...c.raw].some(isControl)).toBe(false);
      expect(c.stream).toMatch(/\t\0$/);
    }
  });

  it('writes the non-JSON numbers as they are', () => {
    const texts = (pattern: RegExp) => ofKind(pattern).map((c) => c.raw);
    for (const raw of texts(/^NaN$/)) expect(raw).toMatch(/[[:,]NaN[\]},]/);
    for (const raw of texts(/^Infinity$/)) expect(raw).toMatch(/[[:,]Infinity[\]},]/);
    for (const raw of texts(/^-Infinity$/)) expect(raw).toMatch(/[[:,]-Infinity[\]},]/);
    for (const raw of texts(/0x10/)) expect(raw).toContain('0x10');
    for (const raw of texts(/\+1/)) expect(raw).toMatch(/[[:,]\+1[\]},]/);
    for (const raw of texts(/007/)) expect(raw).toMatch(/[[:,]007[\]},]/);
  });

  it(`nests ${DEEP_NESTING} levels deep`, () => {
    for (const c of ofKind(/^nesting/)) expect(depth(c.raw)).toBeGreaterThan(DEEP_NESTING);
  });

  it('sizes the big cases around maxEntryBytes, in bytes of UTF-8', () => {
    const bytes = (pattern: RegExp) => ofKind(pattern).map((c) => Buffer.byteLength(c.raw));
    for (const n of bytes(/^exactly maxEntryBytes/)) expect(n).toBe(MAX_ENTRY_BYTES);
    for (const n of bytes(/^one byte over/)) expect(n).toBe(MAX_ENTRY_BYTES + 1);
    for (const n of bytes(/times maxEntryBytes$/)) expect(n).toBeGreaterThanOrEqual(8 * MAX_ENTRY_BYTES);
    for (const c of ofKind(/not in characters/)) {
      expect(c.raw.length).toBeLessThanOrEqual(MAX_ENTRY_BYTES);
      expect(Buffer.byteLength(c.raw)).toBeGreaterThan(MAX_ENTRY_BYTES);
    }
    const small = jsonEdgeCases(new Random(7), { maxEntryBytes: 1024 });
    expect(Buffer.byteLength(small.find((c) => c.kind === 'one byte over maxEntryBytes')!.raw)).toBe(1025);
  });

  it('keeps __proto__ an own key, and lone surrogates out of stream names', () => {
    const beside = ofKind(/^__proto__ beside/)[0]!;
    const parsed = JSON.parse(beside.raw) as object;
    expect(Object.getOwnPropertyNames(parsed)).toContain('__proto__');
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    // A name survives a round trip through UTF-8 only without lone surrogates.
    for (const c of every) if (c.stream !== undefined) expect(Buffer.from(c.stream).toString()).toBe(c.stream);
    for (const c of ofKind(/^lone surrogate/)) expect(JSON.stringify(JSON.parse(c.raw))).toMatch(/\\ud[89ab]|\\ud[c-f]/);
  });
});
