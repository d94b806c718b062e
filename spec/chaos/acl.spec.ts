/**
 * Security: a consumer of service S runs under an ACL user that may touch only S's keys and keyspace channels, S's
 * data streams and theirs, and run only the commands the client needs (the rule documented in docs/security.md).
 * Assignment (a consumer held back above its fair share too), claim, the close() hand-off, takeover, doneStream,
 * done() and the processing of entries with run() all work without an ACL denial (ACL LOG shows none but the expected
 * CONFIG GET, so no denial hides inside a script's pcall), and the user can neither read nor write another service's
 * keys.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { EntryDeadLetterError, RedisStreamClient, addStream, keysFor, type ExpiredStream } from '../../lib/index.js';
import { consumerAclRule } from '../support/chaos-acl.js';
import { spawnConsumer, type ConsumerChild } from '../support/consumer-child.js';
import { Fleet, serviceName, type NodeRedis } from '../support/fleet.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { ScriptedPeer } from '../support/scripted-peer.js';
import { waitFor } from '../support/wait.js';

const PASSWORD = 'consumer-secret';

let server: RedisServer;
let admin: NodeRedis;
let fleet: Fleet;
let service: string;
let other: string;
let url: string;
const children: ConsumerChild[] = [];

beforeAll(async () => {
  // The keyspace flags preset, as on a managed Redis: the consumer needs no CONFIG at all. K and x for the sessions,
  // t for the writes to the data streams.
  server = await startRedis({ args: ['--notify-keyspace-events', 'Kxt'] });
  admin = await new Fleet(server.url).connect({ inspecting: true });
});
afterAll(async () => {
  await admin.disconnect();
  await server.stop();
});
beforeEach(async () => {
  service = serviceName();
  other = serviceName();
  await admin.sendCommand(['ACL', 'SETUSER', `consumer-${service}`, 'reset', 'on', `>${PASSWORD}`, ...consumerAclRule(service, dataStream('*'))]);
  await admin.sendCommand(['ACL', 'LOG', 'RESET']);
  url = `redis://consumer-${service}:${PASSWORD}@127.0.0.1:${server.port}`;
  fleet = new Fleet(url);
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exited;
  }
  await fleet.close();
});

/** The service's data streams: the rule allows the names `data-<service>:*`. */
function dataStream(name: string, of = service): string {
  return `data-${of}:${name}`;
}

/** How many connections listen on a channel. */
async function subscribers(channel: string): Promise<number> {
  const [, count] = (await admin.sendCommand(['PUBSUB', 'NUMSUB', channel])) as [string, number];
  return count;
}

async function aclDenials(): Promise<string[]> {
  const log = (await admin.sendCommand(['ACL', 'LOG'])) as Array<Array<string | number>>;
  return log.map((entry) => {
    const field = (name: string) => String(entry[entry.indexOf(name) + 1]);
    return `${field('reason')} ${field('object')} (${field('context')})`;
  });
}

it('assigns, claims after a close() hand-off, takes over, finishes and retires with only the minimal rule', async () => {
  const first = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  for (let i = 0; i < 4; i++) await first.client.addStream(`s${i}`);
  await waitFor(() => first.log.added.length === 4);

  // close() hands over; a manual consumer claims what it is told about.
  const second = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  await first.client.close();
  await waitFor(() => second.log.expired.length === 4, { timeoutMs: 5000 });
  const claimed = await Promise.all(second.log.expired.map((expired: ExpiredStream) => second.client.claim(expired)));
  expect(claimed.map((lease) => lease.stream).sort()).toEqual(['s0', 's1', 's2', 's3']);

  // Redis forgot the scripts (as after a restart): the client falls back to EVAL.
  await admin.scriptFlush();
  await second.client.addStream('s4');
  await waitFor(() => second.log.added.length === 1);
  // A second live client under the same consumerId is refused (register.lua reads the holder's PTTL).
  const twin = await fleet.consumer({ serviceName: service, heartbeatMs: 100, consumerId: second.client.id() }, { start: false });
  await expect(twin.client.init()).rejects.toMatchObject({ setting: 'consumerId' });

  // A consumer process that is killed is taken over by an autoClaim peer.
  await second.client.doneStream('s0');
  const victim = await spawnConsumer(url, { serviceName: service, heartbeatMs: 1000, autoClaim: true });
  children.push(victim);
  await second.client.close();
  await waitFor(() => victim.owned().size === 4, { timeoutMs: 5000 });
  const third = await fleet.consumer({ serviceName: service, heartbeatMs: 1000, autoClaim: true });
  victim.kill('SIGKILL');
  await waitFor(() => third.client.owned().length === 4, { timeoutMs: 5000 });

  await third.client.doneStream('s1');
  await third.client.done();
  const keys = keysFor(service);
  expect(await admin.xLen(keys.lbs)).toBe(0);
  expect((await admin.xInfoConsumers(keys.lbs, keys.group)).map((c) => c.name)).not.toContain(third.client.id());
  expect(third.log.errors.map((error) => error.message)).toEqual([]);
  // The one refusal is by design: the client asks CONFIG GET for the flags and, refused, checks them with a probe key.
  expect((await aclDenials()).filter((denial) => denial !== 'command config|get (toplevel)')).toEqual([]);
});

it('holds a consumer back above its fair share, and has it take anyway while its peer takes nothing, with only the minimal rule', async () => {
  const { log } = await fleet.consumer({ serviceName: service, rebalance: false });
  // A live peer whose weight leaves the consumer a share of about nothing, and which takes nothing itself.
  await ScriptedPeer.join(await fleet.connect(), service, 'idle-peer', { weight: 1000 });
  // Added at once: its blocking read is delivered one, the other two wait, and it is held back from them.
  const burst = admin.multi();
  for (let i = 0; i < 3; i++) burst.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: `s${i}` }) });
  await burst.exec();
  await waitFor(() => log.added.length === 3, { timeoutMs: 5000 });
  expect(log.errors.map((error) => error.message)).toEqual([]);
  expect((await aclDenials()).filter((denial) => denial !== 'command config|get (toplevel)')).toEqual([]);
});

it("cannot read or write another service's keys or hear its notifications", async () => {
  const otherKeys = keysFor(other);
  await addStream(admin, other, 'theirs');
  await admin.hSet(otherKeys.owners, 'theirs', '0-1');
  const redis = await fleet.connect();

  const denied = async (command: string[]) => expect(redis.sendCommand(command)).rejects.toThrow(/NOPERM/);
  await denied(['GET', otherKeys.token]);
  await denied(['HGETALL', otherKeys.owners]);
  await denied(['XRANGE', otherKeys.lbs, '-', '+']);
  await denied(['XADD', otherKeys.lbs, '*', 'lbs-input', '{"DataStreamName":"mine"}']);
  await denied(['DEL', otherKeys.owners]);
  await denied(['XRANGE', dataStream('theirs', other), '-', '+']);
  await denied(['EVAL', "return redis.call('HGETALL', KEYS[1])", '1', otherKeys.owners]);
  // A script cannot reach them either, even when it does not declare the key.
  await expect(redis.sendCommand(['EVAL', `return redis.call('DEL', '${otherKeys.owners}')`, '0'])).rejects.toThrow(/can't access/);
  await denied(['FLUSHALL']);
  await denied(['KEYS', '*']);
  await denied(['CONFIG', 'SET', 'notify-keyspace-events', '']);
  await expect(addStream(redis, other, 'mine')).rejects.toThrow(/NOPERM/);
  const subscriber = redis.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  await expect(subscriber.pSubscribe(`__keyspace@0__:rsc:{${other}}:session:*`, () => undefined)).rejects.toThrow(/NOPERM/);
  await subscriber.disconnect();

  const intruder = new RedisStreamClient(redis, { serviceName: other, heartbeatMs: 1000 });
  await expect(intruder.init()).rejects.toThrow(/NOPERM|permission/i);

  expect(await admin.hGetAll(otherKeys.owners)).toEqual({ theirs: '0-1' });
  expect(await admin.xLen(otherKeys.lbs)).toBe(1);
});

it('processes entries with run(): reads, hears writes, commits, dead-letters, trims and finishes with only the minimal rule', async () => {
  const [a, b] = [dataStream('a'), dataStream('b')];
  for (const stream of [a, b]) for (let n = 0; n < 5; n++) await admin.xAdd(stream, '*', { n: String(n) });
  await admin.xAdd(a, '*', { end: '1' });
  const { client, log } = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 }, { start: false });
  const processed: string[] = [];
  client.run({
    trim: true,
    maxAttempts: 2,
    isEnd: (entry) => entry.fields.end !== undefined,
    eachEntry: (entry) => {
      if (entry.stream === b && entry.fields.n === '3') throw new Error('cannot process this one');
      processed.push(`${entry.stream} ${entry.fields.n}`);
    },
  });
  await client.init();
  await client.addStream(a);
  await client.addStream(b);
  await waitFor(() => processed.length === 9);

  // a: its end marker finished it, and it is no longer listened to; b: written to while owned, heard and read.
  await waitFor(() => client.owned().length === 1);
  await waitFor(async () => (await subscribers(`__keyspace@0__:${a}`)) === 0);
  expect(await subscribers(`__keyspace@0__:${b}`)).toBe(1);
  const last = await admin.xAdd(b, '*', { n: '5' });
  await waitFor(() => processed.length === 10);
  expect(processed.filter((entry) => entry.startsWith(b))).toEqual(['0', '1', '2', '4', '5'].map((n) => `${b} ${n}`));

  // The entry that failed twice is in the entry dead-letter stream; b is committed and trimmed up to its last entry.
  const keys = keysFor(service);
  const [dead] = await admin.xRange(keys.entryDeadLetter, '-', '+');
  expect(dead?.message).toMatchObject({ stream: b, attempts: '2', fields: '{"n":"3"}' });
  expect(log.errors.filter((error) => !(error instanceof EntryDeadLetterError))).toEqual([]);
  await waitFor(async () => (await client.getPosition(b)) === last);
  await waitFor(async () => (await admin.xLen(b)) === 0);
  await client.setPosition(b, '0-1');
  expect(await client.getPosition(b)).toBe('0-1');

  await client.close();
  // CONFIG GET is refused by design, once for the sessions' flags and once for the data streams'.
  expect((await aclDenials()).filter((denial) => denial !== 'command config|get (toplevel)')).toEqual([]);
});

it('processes the streams it may read when another one granted at the same time is refused (NOPERM)', async () => {
  const [allowed, refused] = [dataStream('allowed'), `elsewhere-${service}`];
  for (const stream of [allowed, refused]) await admin.xAdd(stream, '*', { n: '1' });
  const { client, log } = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 }, { start: false });
  const processed: string[] = [];
  client.run({ eachEntry: (entry) => void processed.push(entry.stream) });
  await client.init();
  // Both entries on the LBS before the consumer takes any: they are granted, and opened, together.
  const { lbs } = keysFor(service);
  await admin.xAdd(lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: allowed }) });
  await admin.xAdd(lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: refused }) });
  await waitFor(() => log.errors.some((error) => /NOPERM/.test(error.message)));
  await waitFor(() => processed.includes(allowed), { message: 'the stream the rule allows is processed' });
});
