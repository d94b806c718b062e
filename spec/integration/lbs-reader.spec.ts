import { describe, expect, it } from 'vitest';
import { DeadLetterError, addStream, keysFor, type RedisStreamClient } from '../../lib/index.js';
import { sessionKey } from '../../lib/keys.js';
import { serviceName } from '../support/fleet.js';
import { readerBlocked } from '../support/redis-clients.js';
import { ScriptedPeer } from '../support/scripted-peer.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

const redis = useRedisServer();

it('assigns each added stream to exactly one consumer', async () => {
  const service = serviceName();
  const consumers = await Promise.all([1, 2, 3].map(() => redis.fleet.consumer({ serviceName: service })));
  for (let i = 0; i < 60; i++) await addStream(redis.admin, service, `stream-${i}`, { i });
  const added = await waitFor(() => {
    const all = consumers.flatMap(({ log }) => log.added);
    return all.length === 60 && all;
  });
  expect(new Set(added.map((lease) => lease.stream)).size).toBe(60);
  expect(consumers.every(({ log }) => log.added.length > 0)).toBe(true);
  const lease = added.find((l) => l.stream === 'stream-7')!;
  expect(lease.info).toEqual({ i: 7 });
  expect(lease.recovered).toBe(false);
  expect(lease.signal.aborted).toBe(false);
});

it('spreads a burst of 300 streams evenly over 3 ready consumers', async () => {
  const service = serviceName();
  const names = [1, 2, 3].map((i) => `${service}-${i}`);
  const consumers = await Promise.all(names.map((clientName) => redis.fleet.consumer({ serviceName: service }, { clientName })));
  // Ready: every consumer's LBS read is waiting when the burst comes.
  for (const name of names) await waitFor(() => readerBlocked(redis.admin, name));
  const burst = redis.admin.multi();
  for (let i = 0; i < 300; i++) burst.xAdd(keysFor(service).lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: `s${i}` }) });
  await burst.exec();
  await waitFor(() => consumers.reduce((sum, { log }) => sum + log.added.length, 0) === 300);
  const shares = consumers.map(({ log }) => log.added.length);
  expect(Math.max(...shares)).toBeLessThanOrEqual(2 * Math.min(...shares));
});

describe('a consumer held back above its fair share', () => {
  /**
   * One consumer (weight 1) beside two peers of weight 4 that the spec plays (ScriptedPeer), which hold nothing yet,
   * on an LBS of `entries` streams: it takes its share and is then held back. `loads()` reads what each holds, as
   * the fair share counts it.
   */
  async function heldBackConsumer(entries: number) {
    const service = serviceName();
    const keys = keysFor(service);
    await redis.admin.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
    const peers = [];
    for (const id of ['peer-1', 'peer-2']) peers.push(await ScriptedPeer.join(redis.admin, service, id, { weight: 4 }));
    const backlog = redis.admin.multi();
    for (let i = 0; i < entries; i++) backlog.xAdd(keys.lbs, '*', { 'lbs-input': JSON.stringify({ DataStreamName: `s${i}` }) });
    await backlog.exec();
    const { client } = await redis.fleet.consumer({ serviceName: service, rebalance: false });
    const loads = async () => {
      const all = await redis.admin.hGetAll(keys.loads);
      return { mine: Number(all[client.id()] ?? 0), peers: Number(all['peer-1'] ?? 0) + Number(all['peer-2'] ?? 0) };
    };
    return { service, client, peers, loads };
  }

  /** The most the consumer may hold while the peers together hold `peers`: its share (1/9) of every stream held
   * plus the batch of 100 it asks for, with the 10 % tolerance (take.lua, shares.lua). */
  const limit = (mine: number, peers: number) => Math.floor((1.1 * (mine + peers + 100)) / 9);

  it('stays held back while its peers take, however slowly: it takes only as its share grows', async () => {
    const { peers, loads } = await heldBackConsumer(400);
    await waitFor(async () => {
      const { mine, peers: theirs } = await loads();
      return mine > 0 && mine === limit(mine, theirs);
    });

    // The peers take one entry every 40 ms: the consumer's share grows by one stream only every 8 of them (over
    // 300 ms, beyond the hold limit of 250 ms), but the peers are seen taking all along.
    for (let step = 0; step < 30; step++) {
      expect(await peers[step % 2]!.take(1)).toBe(1);
      const { mine, peers: theirs } = await loads();
      expect(mine, `after ${step + 1} steps, with the peers holding ${theirs}`).toBeLessThanOrEqual(limit(mine, theirs));
      await sleep(40);
    }
    const { mine, peers: theirs } = await loads();
    expect(theirs).toBe(30);
    expect(mine).toBe(limit(mine, theirs)); // and it took what the peers' progress let it
  });

  it('takes everything once its peers take nothing (alive but stalled) for the hold limit: no entry is stranded', async () => {
    const { service, client, loads } = await heldBackConsumer(300);
    await waitFor(() => everyEntryAdmitted(service, [client]), { timeoutMs: 5000 });
    expect(await loads()).toEqual({ mine: 300, peers: 0 });
  });
});

it('delivers a stream added while consumers are blocked waiting', async () => {
  const service = serviceName();
  const { log } = await redis.fleet.consumer({ serviceName: service }, { clientName: service });
  await waitFor(() => readerBlocked(redis.admin, service));
  await addStream(redis.admin, service, 'late');
  await waitFor(() => log.added.length === 1, { timeoutMs: 2000 });
  expect(log.added[0]!.stream).toBe('late');
});

it('delivers streams added before any consumer existed', async () => {
  const service = serviceName();
  for (let i = 0; i < 5; i++) await addStream(redis.admin, service, `early-${i}`);
  const { log } = await redis.fleet.consumer({ serviceName: service });
  await waitFor(() => log.added.length === 5);
});

it('dead-letters every kind of malformed entry with its reason, and goes on reading', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const { log } = await redis.fleet.consumer({ serviceName: service, maxEntryBytes: 4096 });
  const malformed: Array<[Record<string, string>, string]> = [
    [{ other: 'x' }, 'missing field lbs-input'],
    [{ 'lbs-input': 'not json' }, 'not valid JSON'],
    [{ 'lbs-input': '[1,2]' }, 'not a JSON object'],
    [{ 'lbs-input': '"text"' }, 'not a JSON object'],
    [{ 'lbs-input': '{}' }, 'DataStreamName'],
    [{ 'lbs-input': '{"DataStreamName":""}' }, 'DataStreamName'],
    [{ 'lbs-input': '{"DataStreamName":42}' }, 'DataStreamName'],
    [{ 'lbs-input': '{"DataStreamName":"x","Info":5}' }, 'Info'],
    [{ 'lbs-input': '{"DataStreamName":"x","Info":[1]}' }, 'Info'],
    [{ 'lbs-input': JSON.stringify({ DataStreamName: 'big', Info: { pad: 'x'.repeat(5000) } }) }, 'maxEntryBytes'],
    [{ 'lbs-input': '['.repeat(5000) + ']'.repeat(5000) }, 'maxEntryBytes'],
    // Deeper than the JSON decoder's nesting limit (1000), within maxEntryBytes.
    [{ 'lbs-input': '{"a":' + '['.repeat(1100) + ']'.repeat(1100) + '}' }, 'nested deeper than'],
  ];
  for (const [fields] of malformed) await redis.admin.xAdd(keys.lbs, '*', fields);
  await addStream(redis.admin, service, 'good');

  await waitFor(() => log.added.length === 1 && log.errors.length === malformed.length);
  expect(log.added[0]!.stream).toBe('good');
  expect(log.errors.every((error) => error instanceof DeadLetterError)).toBe(true);
  const dead = await redis.admin.xRange(keys.deadLetter, '-', '+');
  expect(dead).toHaveLength(malformed.length);
  dead.forEach((entry, i) => expect(entry.message.reason).toContain(malformed[i]![1]));
  expect(dead[0]!.message.other).toBe('x');
  // Nothing malformed stays in the LBS or pending.
  expect(await redis.admin.xLen(keys.lbs)).toBe(1);
});

it('never lets two consumers own a stream added twice', async () => {
  const service = serviceName();
  const consumers = await Promise.all([1, 2].map(() => redis.fleet.consumer({ serviceName: service })));
  for (let i = 0; i < 10; i++) await addStream(redis.admin, service, 'same');
  await addStream(redis.admin, service, 'marker');
  await waitFor(() => consumers.flatMap(({ log }) => log.added).some((lease) => lease.stream === 'marker'));
  await waitFor(() => everyEntryAdmitted(service, consumers.map(({ client }) => client)));
  const owners = consumers.filter(({ client }) => client.owned().some((lease) => lease.stream === 'same'));
  expect(owners).toHaveLength(1);
  expect(await redis.admin.xLen(keysFor(service).lbs)).toBe(2);

  // Once finished, the name can be added and owned again.
  await owners[0]!.client.doneStream('same');
  await addStream(redis.admin, service, 'same');
  await waitFor(() => consumers.some(({ client }) => client.owned().some((lease) => lease.stream === 'same')));
});

it('stops taking streams at maxStreams and resumes when one is done', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const { client, log } = await redis.fleet.consumer({ serviceName: service, maxStreams: 3 });
  for (let i = 0; i < 5; i++) await addStream(redis.admin, service, `s${i}`);
  await waitFor(() => log.added.length === 3);
  // Nothing in Redis changes while it holds back, so wait for something it does later: two heartbeats (the first
  // may come at once) put a heartbeat interval at its cap behind it, its reader looking every 50 ms meanwhile.
  for (let beat = 0; beat < 2; beat++) await nextHeartbeat(service, client);
  expect(client.owned()).toHaveLength(3);
  expect((await redis.admin.xPending(keys.lbs, keys.group)).pending).toBe(3); // s3 and s4 not even delivered
  await client.doneStream(log.added[0]!.stream);
  await waitFor(() => log.added.length === 4);
  expect(client.owned()).toHaveLength(3);
});

/**
 * Every entry in the LBS has been delivered to a consumer and admitted by it: none is left undelivered, and every
 * entry pending is a lease of one of `clients` (a blocking read delivers an entry that only the next take admits).
 * Throws, for waitFor to report, what is not there yet.
 */
async function everyEntryAdmitted(service: string, clients: RedisStreamClient[]): Promise<true> {
  const keys = keysFor(service);
  // Raw replies: node-redis majors name these fields differently (v5 keeps Redis's names, v4 camel-cases them).
  const [stream, groups, [pending]] = (await Promise.all([
    redis.admin.sendCommand(['XINFO', 'STREAM', keys.lbs]),
    redis.admin.sendCommand(['XINFO', 'GROUPS', keys.lbs]),
    redis.admin.sendCommand(['XPENDING', keys.lbs, keys.group]),
  ])) as [unknown[], unknown[][], [number]];
  const field = (fields: unknown[], name: string) => fields.find((_, i) => i % 2 === 1 && fields[i - 1] === name);
  const lastGenerated = field(stream, 'last-generated-id');
  const lastDelivered = field(groups.find((group) => field(group, 'name') === keys.group) ?? [], 'last-delivered-id');
  const leases = clients.reduce((sum, client) => sum + client.owned().length, 0);
  if (lastGenerated === undefined || lastDelivered !== lastGenerated || pending !== leases) {
    throw new Error(`delivered up to ${String(lastDelivered)} of ${String(lastGenerated)}; ${pending} pending, ${leases} leases`);
  }
  return true;
}

/** Resolves at the next heartbeat of `client`: when its session deadline in Redis moves. */
async function nextHeartbeat(service: string, client: RedisStreamClient): Promise<void> {
  const deadline = () => redis.admin.zScore(keysFor(service).consumers, client.id());
  const before = await deadline();
  await waitFor(async () => (await deadline()) !== before, { message: `a heartbeat of ${client.id()}` });
}

it('keeps an entry that reached the blocking read of an incarnation that has ended meanwhile', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const consumer = await redis.spawnConsumer({ serviceName: service, heartbeatMs: 1000 }, { clientName: service });
  await addStream(redis.admin, service, 'early');
  await waitFor(() => consumer.owned().has('early'));
  await waitFor(() => readerBlocked(redis.admin, service));
  // Stalled past its session while its blocking read is outstanding: the read outlives the incarnation.
  consumer.kill('SIGSTOP');
  const id = consumer.reports.find((report) => report.event === 'ready')!.id;
  await waitFor(async () => (await redis.admin.exists(sessionKey(keys, id))) === 0, { timeoutMs: 5000 });
  consumer.kill('SIGCONT');
  // The next incarnation has taken back what the last one held; the old read is still outstanding.
  await waitFor(() => consumer.reports.some((report) => report.event === 'streamAdded' && report.recovered), { timeoutMs: 5000 });
  await addStream(redis.admin, service, 'late');
  await waitFor(() => consumer.owned().has('late'), { timeoutMs: 8000 });
  const pending = await redis.admin.xPendingRange(keys.lbs, keys.group, '-', '+', 10, { consumer: id });
  expect(pending).toHaveLength(2);
});

it('takes back, within a few heartbeats, an entry pending under it that it holds no lease for', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const { client, log } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000, maxStreams: 1 });
  await addStream(redis.admin, service, 'first');
  await waitFor(() => log.added.length === 1);
  // Delivered to this consumer behind its back, with no error to make it look: only a periodic check finds it.
  await addStream(redis.admin, service, 'stray');
  await redis.admin.xReadGroup(keys.group, client.id(), { key: keys.lbs, id: '>' }, { COUNT: 1 });
  const stray = await waitFor(() => log.added.find((lease) => lease.stream === 'stray'), { timeoutMs: 10_000 });
  expect(stray.recovered).toBe(true);
  expect(log.errors).toEqual([]);
});
