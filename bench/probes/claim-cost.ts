/**
 * What claim.lua costs Redis per entry, and what its parts cost: 10,000 entries pending under a dead consumer are
 * claimed in calls of 500, once naming no stream (autoClaim) and once naming each entry's stream (manual claim);
 * then single commands of the script are timed in loops inside Lua. Times are Redis's own (INFO commandstats),
 * without the round trips.
 *   npx tsx bench/probes/claim-cost.ts
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { keysFor, sessionKey } from '../../lib/keys.js';
import { claim } from '../../lib/scripts/claim.js';
import { luaScripts } from '../../lib/scripts/generated.js';
import { ScriptRunner } from '../../lib/scripts/runner.js';
import { startRedis } from '../../spec/support/redis-server.js';

const ENTRIES = 10_000;
const BATCH = 500;
const keys = keysFor('probe');
const streamName = (i: number): string => `stream-${i}`;

const server = await startRedis();
const redis = createClient({ url: server.url });
await redis.connect();

/** Microseconds of Redis time per entry for the EVAL/EVALSHA calls made by `run`. */
async function perEntry(command: 'eval' | 'evalsha', run: () => Promise<void>): Promise<number> {
  await redis.sendCommand(['CONFIG', 'RESETSTAT']);
  await run();
  const stats = String(await redis.sendCommand(['INFO', 'commandstats']));
  const usec = Number(new RegExp(`cmdstat_${command}:calls=\\d+,usec=(\\d+)`).exec(stats)?.[1] ?? Number.NaN);
  return usec / ENTRIES;
}

/** An LBS whose entries are all pending under `dead`, with the ownership records take.lua would have written. */
async function orphanedEntries(): Promise<string[]> {
  await redis.sendCommand(['FLUSHALL']);
  await redis.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '$', 'MKSTREAM']);
  const adds = redis.multi();
  for (let i = 0; i < ENTRIES; i++) {
    adds.addCommand(['XADD', keys.lbs, '*', 'lbs-input', JSON.stringify({ DataStreamName: streamName(i), Info: { n: i } })]);
  }
  await adds.exec();
  await redis.sendCommand(['XREADGROUP', 'GROUP', keys.group, 'dead', 'COUNT', String(ENTRIES), 'STREAMS', keys.lbs, '>']);
  const ids = ((await redis.sendCommand(['XRANGE', keys.lbs, '-', '+'])) as Array<[string, string[]]>).map(([id]) => id);
  const records = redis.multi();
  ids.forEach((id, i) => records.addCommand(['HSET', keys.owners, streamName(i), id]));
  records.addCommand(['HSET', keys.loads, 'dead', String(ENTRIES)]);
  records.addCommand(['SET', sessionKey(keys, 'me'), 'nonce']);
  await records.exec();
  return ids;
}

async function claimAll(named: boolean): Promise<number> {
  const ids = await orphanedEntries();
  await redis.sendCommand(['SCRIPT', 'LOAD', luaScripts.claim.source]);
  const runner = new ScriptRunner(redis);
  const scope = { keys, consumerId: 'me', options: { maxEntryBytes: 65_536, maxDeliveries: 10, rebalanceTolerance: 0.1, heartbeatMs: 2000 } };
  return perEntry('evalsha', async () => {
    for (let i = 0; i < ids.length; i += BATCH) {
      // Named: a manual claim of a stream this consumer was told of (the entry is known, not read back).
      const entries = ids.slice(i, i + BATCH).map((lbsId, j) => ({ lbsId, stream: named ? streamName(i + j) : '', known: named }));
      const result = await claim(runner, scope, { nonce: 'nonce', previousOwner: 'dead', entries });
      if (result.status !== 'ok' || result.outcomes.some((outcome) => typeof outcome === 'string')) {
        throw new Error(`a claim was refused: ${JSON.stringify(result).slice(0, 200)}`);
      }
    }
  });
}

/** Loop bodies run once per entry id (ARGV) inside one script call per batch. */
const parts: Record<string, string> = {
  'XPENDING of one id (pending_owner)': `redis.call('XPENDING', KEYS[1], KEYS[2], ARGV[i], ARGV[i], 1)`,
  'XRANGE of one id (read_entry)': `redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])`,
  'XRANGE + cjson.decode (read_entry, decode_entry)': `cjson.decode(redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])[1][2][2])`,
  'HGET of the owners record': `redis.call('HGET', KEYS[3], 'stream-' .. i)`,
  'XCLAIM ... JUSTID': `redis.call('XCLAIM', KEYS[1], KEYS[2], 'dead', 0, ARGV[i], 'JUSTID')`,
  'XCLAIM returning the entry': `redis.call('XCLAIM', KEYS[1], KEYS[2], 'dead', 0, ARGV[i])`,
  'INCR (next_token)': `redis.call('INCR', KEYS[4])`,
};

async function partCost(body: string): Promise<number> {
  const ids = await orphanedEntries();
  return perEntry('eval', async () => {
    for (let i = 0; i < ids.length; i += BATCH) {
      await redis.sendCommand(['EVAL', `for i = 1, #ARGV do ${body} end`, '4', keys.lbs, keys.group, keys.owners, keys.token, ...ids.slice(i, i + BATCH)]);
    }
  });
}

try {
  console.log(`claim.lua, ${ENTRIES.toLocaleString('en-US')} entries in calls of ${BATCH} (µs of Redis time per entry):`);
  console.log(`  naming no stream (autoClaim): ${(await claimAll(false)).toFixed(1)}`);
  console.log(`  naming each stream (manual claim): ${(await claimAll(true)).toFixed(1)}`);
  console.log('Parts, each in a loop inside one script call per batch (µs per entry):');
  for (const [name, body] of Object.entries(parts)) console.log(`  ${name}: ${(await partCost(body)).toFixed(1)}`);
} finally {
  await redis.quit();
  await server.stop();
}
