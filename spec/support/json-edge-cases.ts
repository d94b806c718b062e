/**
 * LBS entries at the edges of JSON, for the randomised chaos run. Each case is an `lbs-input` value to be written
 * with XADD directly (addStream can only write what JSON.stringify makes), tagged with two verdicts the
 * invariants rely on:
 * - `jsonParses`: whether JSON.parse (RFC 8259) accepts it. Redis's Lua cjson is laxer (NaN, hex, raw control
 *   characters...) and stricter (nesting past 1,000 levels, lone surrogates): the tags follow JSON.parse, the
 *   parser the consumers themselves use;
 * - `wellFormed`: whether it is a well-formed LBS entry, as the library defines it (docs/security.md): JSON.parse
 *   accepts it, and so does Redis's decoder (at most 1,000 levels of nesting, no lone surrogate escapes), it is an
 *   object (not an array) whose `DataStreamName` is a non-empty string and whose `Info`, when present, is an object,
 *   and it is at most `maxEntryBytes` bytes of UTF-8. `"Info": null` counts as absent (redis-stream-client-go's
 *   producers write a nil Info map as null), and so does `"Info": []` (Lua cannot tell it from `{}`).
 * A well-formed entry must be granted; any other must be dead-lettered. Every kind appears once per list, in an
 * order and with details (where the oddity sits, which character, ...) drawn from the Random given, so a seed
 * replays them. Stream names are left out when they are not valid UTF-8 (lone surrogates): the README lists that
 * as a limitation; lone surrogates appear in Info instead.
 */
import type { Random } from './chaos-random.js';

export interface JsonEdgeCase {
  /** What is odd about it, e.g. 'raw TAB in an Info string'. */
  readonly kind: string;
  /** The `lbs-input` value. */
  readonly raw: string;
  readonly jsonParses: boolean;
  readonly wellFormed: boolean;
  /** The stream a well-formed entry names (its DataStreamName as JSON.parse reads it). */
  readonly stream?: string;
}

interface Kind {
  readonly kind: string;
  readonly jsonParses: boolean;
  readonly wellFormed: boolean;
  /** The raw value for a case named `name` (every case gets its own name, so none is a duplicate of another). */
  build(name: string, random: Random, maxEntryBytes: number): { raw: string; stream?: string };
}

/** Nesting depth of the deep case: twice the 1,000 levels Lua's cjson accepts. */
export const DEEP_NESTING = 2000;
/** How far over maxEntryBytes the "far over" case is. */
const FAR_OVER_FACTOR = 8;

const str = (value: string): string => JSON.stringify(value);
const entry = (nameJson: string, infoJson?: string): string =>
  `{"DataStreamName":${nameJson}${infoJson === undefined ? '' : `,"Info":${infoJson}`}}`;
const named = (name: string, infoJson = '{}'): { raw: string; stream: string } => ({ raw: entry(str(name), infoJson), stream: name });

/** An entry for `name` whose Info pads it to exactly `bytes` bytes. */
function paddedTo(name: string, bytes: number): string {
  const bare = entry(str(name), '{"pad":""}');
  const room = bytes - Buffer.byteLength(bare);
  if (room < 0) throw new RangeError(`maxEntryBytes ${bytes} is too small for an entry named ${name}`);
  return entry(str(name), `{"pad":"${'x'.repeat(room)}"}`);
}

/** `depth` levels of arrays and objects, chosen at random, around `core`. */
function nested(depth: number, core: string, random: Random): string {
  let open = '';
  let close = '';
  for (let level = 0; level < depth; level++) {
    const array = random.next() < 0.5;
    open += array ? '[' : '{"k":';
    close = (array ? ']' : '}') + close;
  }
  return open + core + close;
}

/** An Info object with `value` (raw JSON text) somewhere in it: a member, an array element, or deeper. */
function infoWith(value: string, random: Random): string {
  return random.pick([`{"v":${value}}`, `{"a":1,"list":[0,${value}]}`, `{"o":{"p":{"v":${value}}}}`])!;
}

/** A control character JSON requires escaped inside strings (U+0001-U+001F, NUL and TAB have kinds of their own). */
function rawControl(random: Random): string {
  return String.fromCharCode(random.pick([0x01, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b, 0x1f])!);
}

const KINDS: readonly Kind[] = [
  // ---- well formed: must be granted ----
  { kind: 'escaped TAB and NUL in the stream name', jsonParses: true, wellFormed: true, build: (name) => ({ raw: entry(`"${name}\\t\\u0000"`, '{}'), stream: `${name}\t\0` }) },
  { kind: 'raw DEL (0x7f) in a string', jsonParses: true, wellFormed: true, build: (name, random) => named(name, infoWith('"a\u007fb"', random)) },
  { kind: 'unicode escapes in the stream name', jsonParses: true, wellFormed: true, build: (name) => ({ raw: entry(`"${name}-\\u00e9\\ud83d\\ude00"`, '{}'), stream: `${name}-é😀` }) },
  { kind: 'raw multibyte UTF-8 in the stream name', jsonParses: true, wellFormed: true, build: (name) => named(`${name}-ünï-😀-中`) },
  { kind: 'lone surrogate escapes in Info', jsonParses: true, wellFormed: false, build: (name, random) => named(name, random.pick(['{"hi":"\\ud800"}', '{"lo":"x\\udc00"}', '{"\\udbff":1}'])!) },
  { kind: '__proto__ and constructor keys in Info', jsonParses: true, wellFormed: true, build: (name) => named(name, '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') },
  {
    kind: '__proto__ beside DataStreamName', jsonParses: true, wellFormed: true,
    build: (name) => ({ raw: `{"__proto__":{"DataStreamName":"${name}-inherited"},"DataStreamName":${str(name)},"Info":{}}`, stream: name }),
  },
  {
    kind: 'duplicate DataStreamName keys (the last wins)', jsonParses: true, wellFormed: true,
    build: (name) => ({ raw: `{"DataStreamName":${str(`${name}-first`)},"DataStreamName":${str(name)}}`, stream: name }),
  },
  {
    kind: 'duplicate Info keys, the last an object', jsonParses: true, wellFormed: true,
    build: (name, random) => ({ raw: `{"DataStreamName":${str(name)},"Info":${random.pick(['[1]', '"x"', '7'])!},"Info":{"a":1}}`, stream: name }),
  },
  { kind: 'empty Info', jsonParses: true, wellFormed: true, build: (name) => named(name, '{}') },
  { kind: 'no Info', jsonParses: true, wellFormed: true, build: (name) => ({ raw: entry(str(name)), stream: name }) },
  { kind: 'Info null (a nil map from a Go producer)', jsonParses: true, wellFormed: true, build: (name) => named(name, 'null') },
  {
    kind: `nesting ${DEEP_NESTING} levels deep in Info`, jsonParses: true, wellFormed: false,
    build: (name, random) => named(name, `{"deep":${nested(DEEP_NESTING, '1', random)}}`),
  },
  {
    kind: 'huge numbers in Info', jsonParses: true, wellFormed: true,
    build: (name, random) =>
      named(name, `{"big":1e400,"neg":-1e400,"tiny":1e-400,"int":123456789012345678901234567890,"digits":${'9'.repeat(random.int(400, 4000))}}`),
  },
  { kind: 'exactly maxEntryBytes long', jsonParses: true, wellFormed: true, build: (name, _random, max) => ({ raw: paddedTo(name, max), stream: name }) },
  {
    kind: 'JSON whitespace around and between tokens', jsonParses: true, wellFormed: true,
    build: (name) => ({ raw: `\n\t {\r\n "DataStreamName" :\t${str(name)} ,\n "Info" : { "a" : [ 1 , 2 ] } }\r\n `, stream: name }),
  },
  { kind: 'every escape in an Info string', jsonParses: true, wellFormed: true, build: (name) => named(name, '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u001f"}') },
  { kind: 'Info before DataStreamName', jsonParses: true, wellFormed: true, build: (name) => ({ raw: `{"Info":{"a":1},"DataStreamName":${str(name)}}`, stream: name }) },
  { kind: 'extra top-level members', jsonParses: true, wellFormed: true, build: (name) => ({ raw: `{"DataStreamName":${str(name)},"Info":{},"Extra":[1,{}],"n":null}`, stream: name }) },
  { kind: 'number forms: -0, exponents, fractions', jsonParses: true, wellFormed: true, build: (name) => named(name, '{"a":-0,"b":1E+2,"c":0.5e-3,"d":-1.25E-10}') },

  // ---- JSON, but not an LBS entry: must be dead-lettered ----
  { kind: 'an array holding an entry', jsonParses: true, wellFormed: false, build: (name) => ({ raw: `[${entry(str(name), '{}')}]` }) },
  { kind: 'an empty array', jsonParses: true, wellFormed: false, build: () => ({ raw: '[]' }) },
  { kind: 'Info an empty array', jsonParses: true, wellFormed: true, build: (name) => ({ raw: entry(str(name), '[]'), stream: name }) },
  { kind: 'Info an array', jsonParses: true, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), random.pick(['[1,2]', '[{"a":1}]', '[[]]'])!) }) },
  { kind: 'Info a scalar', jsonParses: true, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), random.pick(['"info"', '7', 'true', 'false', '""'])!) }) },
  { kind: 'DataStreamName missing', jsonParses: true, wellFormed: false, build: (name) => ({ raw: `{"Info":{"DataStreamName":${str(name)}}}` }) },
  { kind: 'DataStreamName empty', jsonParses: true, wellFormed: false, build: () => ({ raw: entry('""', '{}') }) },
  { kind: 'DataStreamName a number', jsonParses: true, wellFormed: false, build: (_name, random) => ({ raw: entry(random.pick(['7', '1e400', '-0', '123456789012345678901234567890'])!, '{}') }) },
  { kind: 'DataStreamName not a string', jsonParses: true, wellFormed: false, build: (name, random) => ({ raw: entry(random.pick([`{"name":${str(name)}}`, `[${str(name)}]`, 'null', 'true'])!, '{}') }) },
  { kind: 'duplicate DataStreamName keys, the last not a string', jsonParses: true, wellFormed: false, build: (name) => ({ raw: `{"DataStreamName":${str(name)},"DataStreamName":7}` }) },
  { kind: '__proto__ carrying the only DataStreamName', jsonParses: true, wellFormed: false, build: (name) => ({ raw: `{"__proto__":{"DataStreamName":${str(name)}},"Info":{}}` }) },
  { kind: 'a JSON scalar', jsonParses: true, wellFormed: false, build: (name, random) => ({ raw: random.pick([str(name), '7', 'null', 'true'])! }) },
  { kind: 'one byte over maxEntryBytes', jsonParses: true, wellFormed: false, build: (name, _random, max) => ({ raw: paddedTo(name, max + 1) }) },
  { kind: `${FAR_OVER_FACTOR} times maxEntryBytes`, jsonParses: true, wellFormed: false, build: (name, _random, max) => ({ raw: paddedTo(name, FAR_OVER_FACTOR * max) }) },
  {
    kind: 'over maxEntryBytes in UTF-8 bytes, not in characters', jsonParses: true, wellFormed: false,
    build: (name, _random, max) => {
      const bare = entry(str(name), '{"pad":""}');
      return { raw: entry(str(name), `{"pad":"${'é'.repeat(max - bare.length)}"}`) };
    },
  },

  // ---- not JSON: must be dead-lettered ----
  { kind: 'raw TAB in an Info string', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('"a\tb"', random)) }) },
  { kind: 'raw TAB in the stream name', jsonParses: false, wellFormed: false, build: (name) => ({ raw: entry(`"${name}\t"`, '{}') }) },
  { kind: 'raw NUL in a string', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: random.next() < 0.5 ? entry(`"${name}\0"`, '{}') : entry(str(name), '{"v":"a\0b"}') }) },
  { kind: 'raw control character in a string', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith(`"a${rawControl(random)}b"`, random)) }) },
  { kind: 'NaN', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('NaN', random)) }) },
  { kind: 'Infinity', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('Infinity', random)) }) },
  { kind: '-Infinity', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('-Infinity', random)) }) },
  { kind: 'lowercase nan and inf', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith(random.pick(['nan', 'inf', '-inf'])!, random)) }) },
  { kind: 'hex number 0x10', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('0x10', random)) }) },
  { kind: 'plus sign +1', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('+1', random)) }) },
  { kind: 'leading zeros 007', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('007', random)) }) },
  { kind: 'trailing dot 1.', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('1.', random)) }) },
  { kind: 'leading dot .5', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith('.5', random)) }) },
  { kind: 'trailing comma', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: random.next() < 0.5 ? `{"DataStreamName":${str(name)},}` : entry(str(name), '{"a":[1,],"b":2}') }) },
  { kind: 'single quotes', jsonParses: false, wellFormed: false, build: (name) => ({ raw: `{'DataStreamName':'${name}'}` }) },
  { kind: 'text after the object', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), '{}') + random.pick([' x', '{}', ',', ' 1'])! }) },
  { kind: 'byte order mark before the object', jsonParses: false, wellFormed: false, build: (name) => ({ raw: `\ufeff${entry(str(name), '{}')}` }) },
  { kind: 'empty string', jsonParses: false, wellFormed: false, build: () => ({ raw: '' }) },
  { kind: 'truncated', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), '{"a":[1,2]}').slice(0, -random.int(1, 6)) }) },
  { kind: 'invalid escape', jsonParses: false, wellFormed: false, build: (name, random) => ({ raw: entry(str(name), infoWith(random.pick(['"\\x41"', '"\\u12"', '"\\a"'])!, random)) }) },
  { kind: 'a comment', jsonParses: false, wellFormed: false, build: (name) => ({ raw: `{"DataStreamName":${str(name)} /* comment */,"Info":{}}` }) },
  {
    kind: `nesting ${DEEP_NESTING} levels deep, unclosed`, jsonParses: false, wellFormed: false,
    build: (name, random) => ({ raw: entry(str(name), `{"deep":${nested(DEEP_NESTING, '1', random)}}`).slice(0, -DEEP_NESTING / 2) }),
  },
];

/** Every kind's name, in catalogue order. */
export const EDGE_KINDS: readonly string[] = KINDS.map((k) => k.kind);

/**
 * Every kind of edge case once, in an order drawn from `random`, named `<prefix>-0`, `<prefix>-1`, ... in that
 * order. Pure: the same seed and arguments give the same list.
 */
export function jsonEdgeCases(random: Random, { maxEntryBytes, prefix = 'edge' }: { maxEntryBytes: number; prefix?: string }): JsonEdgeCase[] {
  const order = [...KINDS];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.map(({ kind, jsonParses, wellFormed, build }, i) => {
    const { raw, stream } = build(`${prefix}-${i}`, random, maxEntryBytes);
    return { kind, raw, jsonParses, wellFormed, ...(wellFormed ? { stream } : {}) };
  });
}
