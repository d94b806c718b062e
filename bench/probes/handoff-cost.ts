/**
 * What the commands of a hand-off cost Redis per stream: the ones handoff.lua runs for each stream it hands over,
 * and the message it builds and publishes per receiver (cjson.encode of the receiver's list, PUBLISH on its session
 * key's keyspace channel, heard by a subscriber as the receiver's would be), each timed alone in a loop inside one
 * script call per batch of 250 (HandOver's batch) handed to 3 receivers, over 10,000 LBS entries pending under a
 * giver. Times are Redis's own (INFO commandstats), without the round trips. The receiver makes no Redis call: it owns
 * the streams from the message. bench/probes/handoff-timeline.ts gives the whole script's time.
 *   npx tsx bench/probes/handoff-cost.ts
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { startRedis } from '../../spec/support/redis-server.js';

const ENTRIES = 10_000;
const BATCH = 250;
const RECEIVERS = 3;
const [LBS, GROUP, TOKEN] = ['lbs', 'group', 'token'];
const channel = (receiver: number): string => `__keyspace@0__:rsc:{s}:session:receiver-${receiver}`;

const server = await startRedis();
const redis = createClient({ url: server.url });
const listener = redis.duplicate();
let heard = 0;
await Promise.all([redis.connect(), listener.connect()]);
for (let r = 1; r <= RECEIVERS; r++) await listener.subscribe(channel(r), () => void heard++);

/** LBS entries all pending under `giver`, and each receiver's nonce. Returns the entry ids. */
async function entries(): Promise<string[]> {
  await redis.sendCommand(['FLUSHALL']);
  await redis.sendCommand(['XGROUP', 'CREATE', LBS, GROUP, '$', 'MKSTREAM']);
  const adds = redis.multi();
  for (let i = 0; i < ENTRIES; i++) adds.addCommand(['XADD', LBS, '*', 'lbs-input', JSON.stringify({ DataStreamName: `stream-${i}`, Info: { n: i } })]);
  for (let r = 1; r <= RECEIVERS; r++) adds.addCommand(['SET', `nonce-${r}`, 'V1StGXR8_Z5jdHi6B-myT']);
  await adds.exec();
  await redis.sendCommand(['XREADGROUP', 'GROUP', GROUP, 'giver', 'COUNT', String(ENTRIES), 'STREAMS', LBS, '>']);
  return ((await redis.sendCommand(['XRANGE', LBS, '-', '+'])) as Array<[string, string[]]>).map(([id]) => id);
}

/**
 * µs of Redis time per entry of `body`, run once per entry id (ARGV[i]) after `setup`, then `after` once per call,
 * in calls of BATCH ids. `handed[r]`: receiver r's list, filled by the entries in turn (round robin) when `listed`.
 */
async function cost(body: string, after = '', listed = false): Promise<number> {
  const ids = await entries();
  await redis.sendCommand(['CONFIG', 'RESETSTAT']);
  const fill = listed ? `local list = handed[(i % ${RECEIVERS}) + 1] list[#list + 1] = { ARGV[i], 'stream-' .. i, '1764867600000000123', '{"n":1}' }` : '';
  const script = `local handed = {} for r = 1, ${RECEIVERS} do handed[r] = {} end for i = 1, #ARGV do ${fill} ${body} end ${after} return #ARGV`;
  for (let i = 0; i < ids.length; i += BATCH) await redis.sendCommand(['EVAL', script, '3', LBS, GROUP, TOKEN, ...ids.slice(i, i + BATCH)]);
  const stats = String(await redis.sendCommand(['INFO', 'commandstats']));
  return Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? Number.NaN) / ENTRIES;
}

const perReceiver = (body: string): string => `for r = 1, ${RECEIVERS} do ${body} end`;
const message = `'handoff:' .. cjson.encode({ n = redis.call('GET', 'nonce-' .. r), m = '12', g = 'giver', s = handed[r] })`;
const parts: Array<[string, string, string?, boolean?]> = [
  ['the loop alone', ''],
  ['XPENDING of one id (pending_owner)', `redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[i], ARGV[i], 1)`],
  ['HGET of the owners record', `redis.call('HGET', 'owners', 'stream-' .. i)`],
  ['XCLAIM ... JUSTID to the receiver', `redis.call('XCLAIM', KEYS[1], KEYS[2], 'receiver', 0, ARGV[i], 'JUSTID')`],
  ['INCR (next_token)', `redis.call('INCR', KEYS[3])`],
  ['the stream added to its receiver\'s list', '', '', true],
  ['per receiver: GET of its nonce, cjson.encode of its message', '', perReceiver(`local text = ${message}`), true],
  [
    'per receiver: the same, and PUBLISH of the message',
    '',
    perReceiver(`redis.call('PUBLISH', '__keyspace@0__:rsc:{s}:session:receiver-' .. r, ${message})`),
    true,
  ],
  ['per receiver: HINCRBY of its load', '', perReceiver(`redis.call('HINCRBY', 'loads', 'receiver-' .. r, #handed[r])`), true],
];

try {
  console.log(
    `The commands of a hand-off, each in a loop inside one script call per ${BATCH} entries, to ${RECEIVERS} receivers ` +
      '(µs of Redis time per entry; the per-receiver parts include building the lists):',
  );
  for (const [name, body, after, listed] of parts) console.log(`  ${name}: ${(await cost(body, after, listed)).toFixed(1)}`);
  console.log(`  (${heard} messages heard by the subscriber)`);
} finally {
  await Promise.all([redis.quit(), listener.quit()]);
  await server.stop();
}
