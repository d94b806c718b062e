/**
 * What the commands of a hand-off cost Redis per stream: the ones handoff.lua runs for each stream it hands over
 * and the ones accept.lua runs for each item the receiver takes, each timed alone in a loop inside one script call
 * per batch of 250 (handoff.lua's batch), over 10,000 LBS entries pending under a giver. Times are Redis's own (INFO
 * commandstats), without the round trips. bench/probes/handoff-timeline.ts gives the whole scripts' time.
 *   npx tsx bench/probes/handoff-cost.ts
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { startRedis } from '../../spec/support/redis-server.js';

const ENTRIES = 10_000;
const BATCH = 250;
const [LBS, GROUP, INBOX, TOKEN] = ['lbs', 'group', 'inbox', 'token'];
/** An inbox item as handoff.lua writes it (a receiver in autoClaim mode). */
const item = (id: string, i: number): string =>
  JSON.stringify({ id, stream: `stream-${i}`, nonce: 'V1StGXR8_Z5jdHi6B-myT', epoch: '12', token: '1764867600000000123' });

const server = await startRedis();
const redis = createClient({ url: server.url });
await redis.connect();

/** LBS entries all pending under `giver`, and an inbox holding an item for each. Returns the entry ids. */
async function entries(): Promise<string[]> {
  await redis.sendCommand(['FLUSHALL']);
  await redis.sendCommand(['XGROUP', 'CREATE', LBS, GROUP, '$', 'MKSTREAM']);
  const adds = redis.multi();
  for (let i = 0; i < ENTRIES; i++) adds.addCommand(['XADD', LBS, '*', 'lbs-input', JSON.stringify({ DataStreamName: `stream-${i}`, Info: { n: i } })]);
  await adds.exec();
  await redis.sendCommand(['XREADGROUP', 'GROUP', GROUP, 'giver', 'COUNT', String(ENTRIES), 'STREAMS', LBS, '>']);
  const ids = ((await redis.sendCommand(['XRANGE', LBS, '-', '+'])) as Array<[string, string[]]>).map(([id]) => id);
  const items = redis.multi();
  ids.forEach((id, i) => items.addCommand(['RPUSH', INBOX, item(id, i)]));
  await items.exec();
  return ids;
}

/** µs of Redis time per entry of `body`, run once per entry id (ARGV[i]) after `setup`, in calls of BATCH ids. */
async function cost(body: string, setup = ''): Promise<number> {
  const ids = await entries();
  await redis.sendCommand(['CONFIG', 'RESETSTAT']);
  for (let i = 0; i < ids.length; i += BATCH) {
    const script = `local items = {} ${setup} for i = 1, #ARGV do ${body} end return #items`;
    await redis.sendCommand(['EVAL', script, '4', LBS, GROUP, INBOX, TOKEN, ...ids.slice(i, i + BATCH)]);
  }
  const stats = String(await redis.sendCommand(['INFO', 'commandstats']));
  return Number(/cmdstat_eval:calls=\d+,usec=(\d+)/.exec(stats)?.[1] ?? Number.NaN) / ENTRIES;
}

const itemLiteral = `'{"id":"' .. ARGV[i] .. '","stream":"stream-1","nonce":"V1StGXR8_Z5jdHi6B-myT","epoch":"12","token":"1764867600000000123"}'`;
const parts: Array<[string, string, string?]> = [
  ['the loop alone', ''],
  ['both: XPENDING of one id (pending_owner)', `redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[i], ARGV[i], 1)`],
  ['handoff.lua: HGET of the owners record', `redis.call('HGET', 'owners', 'stream-' .. i)`],
  ['handoff.lua: XCLAIM ... JUSTID to the receiver', `redis.call('XCLAIM', KEYS[1], KEYS[2], 'receiver', 0, ARGV[i], 'JUSTID')`],
  ['handoff.lua: INCR (next_token)', `redis.call('INCR', KEYS[4])`],
  [
    'handoff.lua: cjson.encode of the item',
    `items[#items + 1] = cjson.encode({ id = ARGV[i], stream = 'stream-' .. i, nonce = 'V1StGXR8_Z5jdHi6B-myT', epoch = '12', token = '1764867600000000123' })`,
  ],
  ['handoff.lua: RPUSH of the item', `redis.call('RPUSH', 'inbox-2', ${itemLiteral})`],
  ['handoff.lua: HINCRBY of the receiver\'s load', `redis.call('HINCRBY', 'loads', 'receiver', 1)`],
  ['accept.lua: LRANGE + LTRIM of the inbox, per item', `if i == 1 then items = redis.call('LRANGE', KEYS[3], 0, ${BATCH - 1}) redis.call('LTRIM', KEYS[3], ${BATCH}, -1) end`],
  ['accept.lua: cjson.decode of the item', `local decoded = cjson.decode(items[i])`, `items = redis.call('LRANGE', KEYS[3], 0, ${BATCH - 1})`],
  ['accept.lua: XRANGE of one id (read_entry)', `redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])`],
];

try {
  console.log(`The commands of a hand-off, each in a loop inside one script call per ${BATCH} entries (µs of Redis time per entry):`);
  for (const [name, body, setup] of parts) console.log(`  ${name}: ${(await cost(body, setup)).toFixed(1)}`);
} finally {
  await redis.quit();
  await server.stop();
}
