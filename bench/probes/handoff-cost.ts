/**
 * What the commands of a hand-off cost Redis per stream: the ones handoff.lua runs per call (XPENDING over the range
 * of the call's entries), per receiver (one XCLAIM of its entries, its message: cjson.encode of its list and PUBLISH
 * on its session key's keyspace channel, heard by a subscriber as the receiver's would be) and per stream (HGET of
 * the owners record, INCR of the token counter), and for comparison the per-entry XPENDING and XCLAIM they
 * replace; each timed alone inside one script call per batch of 1,000 (HandOver's batch) handed to 3 receivers, over
 * 10,000 LBS entries pending under a giver. Times are Redis's own (INFO commandstats), without the round trips. The
 * receiver makes no Redis call: it owns the streams from the message. bench/probes/handoff-timeline.ts gives the
 * whole script's time.
 *   npx tsx bench/probes/handoff-cost.ts
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { startRedis } from '../../spec/support/redis-server.js';

const ENTRIES = 10_000;
const BATCH = 1000;
const RECEIVERS = 3;
const [LBS, GROUP, TOKEN] = ['lbs', 'group', 'token'];
const channel = (receiver: number): string => `__keyspace@0__:rsc:{s}:session:receiver-${receiver}`;

const server = await startRedis();
const redis = createClient({ url: server.url });
const listener = redis.duplicate();
let heard = 0;
await Promise.all([redis.connect(), listener.connect()]);
for (let r = 1; r <= RECEIVERS; r++) await listener.subscribe(channel(r), () => void heard++);

/** LBS entries all pending under `giver`, the owners record naming them, and each receiver's nonce. Returns the entry
 * ids. */
async function entries(): Promise<string[]> {
  await redis.sendCommand(['FLUSHALL']);
  await redis.sendCommand(['XGROUP', 'CREATE', LBS, GROUP, '$', 'MKSTREAM']);
  const adds = redis.multi();
  for (let i = 0; i < ENTRIES; i++) adds.addCommand(['XADD', LBS, '*', 'lbs-input', JSON.stringify({ DataStreamName: `stream-${i}`, Info: { n: i } })]);
  for (let r = 1; r <= RECEIVERS; r++) adds.addCommand(['SET', `nonce-${r}`, 'V1StGXR8_Z5jdHi6B-myT']);
  await adds.exec();
  const ids = ((await redis.sendCommand(['XRANGE', LBS, '-', '+'])) as Array<[string, string[]]>).map(([id]) => id);
  await redis.sendCommand(['HSET', 'owners', ...ids.flatMap((id, i) => [`stream-${i}`, id])]);
  await redis.sendCommand(['XREADGROUP', 'GROUP', GROUP, 'giver', 'COUNT', String(ENTRIES), 'STREAMS', LBS, '>']);
  return ids;
}

/**
 * µs of Redis time per entry of `script`, run in calls of BATCH entry ids (ARGV) after a prologue that lists them, in
 * turn, for the receivers (`handed[r]`: receiver r's entries as { id, stream, token, Info }, as handoff.lua's messages
 * carry them, and `ids[r]`: its entry ids).
 */
async function cost(script: string): Promise<number> {
  const ids = await entries();
  await redis.sendCommand(['CONFIG', 'RESETSTAT']);
  const prologue =
    `local handed, ids = {}, {} for r = 1, ${RECEIVERS} do handed[r], ids[r] = {}, {} end ` +
    `for i = 1, #ARGV do local r = (i % ${RECEIVERS}) + 1 ` +
    `handed[r][#handed[r] + 1] = { ARGV[i], 'stream-' .. i, '1764867600000000123', '{"n":1}' } ids[r][#ids[r] + 1] = ARGV[i] end `;
  for (let i = 0; i < ids.length; i += BATCH) await redis.sendCommand(['EVAL', `${prologue}${script} return #ARGV`, '3', LBS, GROUP, TOKEN, ...ids.slice(i, i + BATCH)]);
  const stats = String(await redis.sendCommand(['INFO', 'commandstats']));
  return Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? Number.NaN) / ENTRIES;
}

const perReceiver = (body: string): string => `for r = 1, ${RECEIVERS} do ${body} end`;
const message = `'handoff:' .. cjson.encode({ n = redis.call('GET', 'nonce-' .. r), m = '12', g = 'giver', s = handed[r] })`;
const parts: Array<[string, string]> = [
  ['HGET of the owners record, per stream', `for i = 1, #ARGV do redis.call('HGET', 'owners', 'stream-' .. (i - 1)) end`],
  [
    'XPENDING over the range of the call, filtered by the giver, once per call',
    `local listed = {} for _, p in ipairs(redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[1], ARGV[#ARGV], #ARGV, 'giver')) do listed[p[1]] = true end`,
  ],
  ['(instead: XPENDING of each entry alone, the fallback)', `for i = 1, #ARGV do redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[i], ARGV[i], 1) end`],
  ['XCLAIM ... JUSTID, once per receiver', perReceiver(`local l = ids[r] l[#l + 1] = 'JUSTID' redis.call('XCLAIM', KEYS[1], KEYS[2], 'receiver-' .. r, 0, unpack(l))`)],
  ['(instead: XCLAIM ... JUSTID of each entry alone)', `for i = 1, #ARGV do redis.call('XCLAIM', KEYS[1], KEYS[2], 'receiver', 0, ARGV[i], 'JUSTID') end`],
  ['INCR of the token counter, per stream (next_token)', `for i = 1, #ARGV do string.format('%d', redis.call('INCR', KEYS[3])) end`],
  ['per receiver: GET of its nonce, cjson.encode of its message', perReceiver(`local text = ${message}`)],
  ['per receiver: the same, and PUBLISH of the message', perReceiver(`redis.call('PUBLISH', '__keyspace@0__:rsc:{s}:session:receiver-' .. r, ${message})`)],
  ['per receiver: HINCRBY of its load', perReceiver(`redis.call('HINCRBY', 'loads', 'receiver-' .. r, #handed[r])`)],
];

try {
  console.log(
    `The commands of a hand-off, inside one script call per ${BATCH} entries handed to ${RECEIVERS} receivers ` +
      '(µs of Redis time per entry, the prologue that lists the entries per receiver taken off):',
  );
  const base = await cost('');
  console.log(`  the prologue alone (listing the entries per receiver): ${base.toFixed(1)}`);
  for (const [name, script] of parts) console.log(`  ${name}: ${((await cost(script)) - base).toFixed(1)}`);
  console.log(`  (${heard} messages heard by the subscriber)`);
} finally {
  await Promise.all([redis.quit(), listener.quit()]);
  await server.stop();
}
