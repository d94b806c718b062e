/**
 * Redis Sentinel (node-redis 5 and 6, `createSentinel`): one master, one replica, three sentinels. The client
 * follows the master the sentinels name through a failover, as it follows a cluster slot's master.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addStream, keysFor, type StreamEntry } from '../../lib/index.js';
import { spawnConsumer, type ConsumerChild } from '../support/consumer-child.js';
import { Fleet, serviceName } from '../support/fleet.js';
import { sentinelUnsupported, type NodeRedisSentinel } from '../support/node-redis.js';
import { startSentinel, type RedisSentinelSetup } from '../support/redis-sentinel.js';
import { waitFor } from '../support/wait.js';

const HEARTBEAT_MS = 1000;
/** A takeover's bound, as on a single Redis and on a cluster, with room for a loaded 2-core machine. */
const TAKEOVER_MS = HEARTBEAT_MS + 1500;

describe.skipIf(sentinelUnsupported !== undefined)(`on Redis Sentinel${sentinelUnsupported ? ` (skipped: ${sentinelUnsupported})` : ''}`, () => {
  let setup: RedisSentinelSetup;
  let fleet: Fleet;
  let producer: NodeRedisSentinel;
  const children: ConsumerChild[] = [];

  beforeAll(async () => {
    setup = await startSentinel();
  });
  afterAll(() => setup?.stop());
  beforeEach(async () => {
    fleet = new Fleet('');
    producer = await setup.connect();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
      await child.exited;
    }
    await fleet.close();
  });

  async function consumers(service: string, count: number, heartbeatMs = HEARTBEAT_MS) {
    return Promise.all(
      Array.from({ length: count }, async () => fleet.consumerOn(await setup.connect(), { serviceName: service, heartbeatMs, autoClaim: true })),
    );
  }

  async function child(service: string): Promise<ConsumerChild> {
    const spawned = await spawnConsumer({ sentinel: setup.name, rootNodes: setup.rootNodes }, { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true });
    children.push(spawned);
    return spawned;
  }

  async function add(service: string, names: readonly string[]): Promise<void> {
    for (const name of names) await addStream(producer, service, name);
  }

  /** Every stream's owners, from the consumers in this process and the children's reports. */
  function owners(group: Array<{ client: { owned(): Array<{ stream: string }> } }>, others: ConsumerChild[]): Map<string, number> {
    const count = new Map<string, number>();
    const streams = [...group.flatMap(({ client }) => client.owned().map((lease) => lease.stream)), ...others.flatMap((other) => [...other.owned().keys()])];
    for (const stream of streams) count.set(stream, (count.get(stream) ?? 0) + 1);
    return count;
  }

  function ownedOnce(count: Map<string, number>, streams: readonly string[]): boolean {
    return count.size === streams.length && streams.every((stream) => count.get(stream) === 1);
  }

  /** Until the replica has every write the master had when asked (replication is asynchronous). */
  async function replicated(): Promise<void> {
    const master = await setup.master();
    const replica = setup.nodes.find((node) => node !== master)!;
    const offset = Number(/master_repl_offset:(\d+)/.exec(await master.cli('INFO', 'replication'))![1]);
    await waitFor(async () => Number(/slave_repl_offset:(\d+)/.exec(await replica.cli('INFO', 'replication'))?.[1] ?? -1) >= offset, {
      timeoutMs: 5000,
      message: 'the replica did not catch up',
    });
  }

  it('assigns streams through a Sentinel client and takes a SIGKILLed consumer\'s over within heartbeatMs', async () => {
    const service = serviceName();
    const victim = await child(service);
    const survivors = await consumers(service, 2);
    const streams = Array.from({ length: 12 }, (_, i) => `before-${i}`);
    await add(service, streams);
    await waitFor(() => ownedOnce(owners(survivors, [victim]), streams));
    expect(victim.owned().size).toBeGreaterThan(0);

    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await waitFor(() => ownedOnce(owners(survivors, []), streams), { timeoutMs: 10_000 });
    expect(Date.now() - killedAt).toBeLessThanOrEqual(TAKEOVER_MS);
  });

  // Last: it leaves the set-up with one data node, the promoted replica.
  it('follows the master through a failover: no stream lost or owned twice, takeovers and processing go on, tokens above every earlier one', async () => {
    // A service whose heartbeatMs rides the failover out: nothing is disowned, processing just moves.
    const steadyService = serviceName();
    const steady = await consumers(steadyService, 2, 20_000);
    const steadySeen: StreamEntry[] = [];
    for (const { client } of steady) client.run({ eachEntry: (entry) => void steadySeen.push(entry), commitIntervalMs: 20 });
    const steadyStreams = Array.from({ length: 6 }, (_, i) => `steady-${steadyService}-${i}`);
    await add(steadyService, steadyStreams);
    for (const stream of steadyStreams) await producer.xAdd(stream, '*', { n: '0' });
    await waitFor(() => steadySeen.length === steadyStreams.length, { timeoutMs: 5000 });
    const steadyTokensBefore = steady.flatMap(({ log }) => log.added.map((lease) => lease.token));

    // A service whose heartbeatMs is shorter than the failover: every session ends meanwhile.
    const service = serviceName();
    const group = await consumers(service, 3);
    // One child dies with the master (its streams must not be lost across the failover), one after it.
    const [diesWithMaster, diesAfter] = [await child(service), await child(service)];
    const seen: StreamEntry[] = [];
    for (const { client } of group) client.run({ eachEntry: (entry) => void seen.push(entry), commitIntervalMs: 20 });
    const streams = Array.from({ length: 16 }, (_, i) => `s-${service}-${i}`);
    await add(service, streams);
    await waitFor(() => ownedOnce(owners(group, [diesWithMaster, diesAfter]), streams));
    const heldHere = new Set(group.flatMap(({ client }) => client.owned().map((lease) => lease.stream)));
    for (const stream of streams) await producer.xAdd(stream, '*', { n: '0' });
    await waitFor(() => new Set(seen.map((entry) => entry.stream)).size >= heldHere.size, { timeoutMs: 5000 });
    const grantsBefore = group.map(({ log }) => log.added.length);
    const tokensBefore = [
      ...group.flatMap(({ log }) => log.added.map((lease) => lease.token)),
      ...[diesWithMaster, diesAfter].flatMap((other) => [...other.owned().values()].map((lease) => lease.token)),
    ];
    await replicated();

    const master = await setup.master();
    const killedAt = Date.now();
    master.kill('SIGKILL');
    diesWithMaster.kill('SIGKILL');
    const promoted = await setup.failedOver(master);
    const failedOverAt = Date.now();
    // Every stream owned again by exactly one live consumer: the survivors took over the one that died with the
    // master (its session expired on the new master, unheard: the reconcile after the move finds it).
    await waitFor(() => ownedOnce(owners(group, [diesAfter]), streams), { timeoutMs: 20_000, message: 'every stream owned once after the failover' });
    const settledAt = Date.now();
    // The promoted replica started without the flags; the consumers set them there.
    expect(await promoted.cli('CONFIG', 'GET', 'notify-keyspace-events')).toMatch(/\n.*x/);

    // Producers on a Sentinel client follow by themselves.
    const added = [`new-${service}-a`, `new-${service}-b`];
    await add(service, added);
    const all = [...streams, ...added];
    await waitFor(() => ownedOnce(owners(group, [diesAfter]), all), { timeoutMs: 10_000 });

    // A consumer that dies after the failover is taken over on the new master within the usual bound.
    // (Its share, once the streams are spread again: whoever reached the new master first took them all over.)
    await waitFor(() => diesAfter.owned().size > 0 && ownedOnce(owners(group, [diesAfter]), all), { timeoutMs: 10_000 });
    const secondKillAt = Date.now();
    diesAfter.kill('SIGKILL');
    await waitFor(() => ownedOnce(owners(group, []), all), { timeoutMs: 10_000 });
    const takeoverMs = Date.now() - secondKillAt;
    expect(takeoverMs).toBeLessThanOrEqual(TAKEOVER_MS);

    // Processing followed: every stream's entries, written before and after, are processed on the new master.
    for (const stream of all) await producer.xAdd(stream, '*', { n: '1' });
    await waitFor(() => all.every((stream) => seen.some((entry) => entry.stream === stream && entry.fields.n === '1')), {
      timeoutMs: 10_000,
      message: 'every stream processed after the failover',
    });
    for (const stream of streams) {
      expect(new Set(seen.filter((entry) => entry.stream === stream).map((entry) => entry.fields.n))).toEqual(new Set(['0', '1']));
    }

    // Fencing: every token granted after the failover is above every token granted before it.
    const tokensAfter = group.flatMap(({ log }, i) => log.added.slice(grantsBefore[i]).map((lease) => lease.token));
    expect(tokensAfter.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...tokensAfter)).toBeGreaterThan(Math.max(...tokensBefore));
    expect(await promoted.cli('XLEN', keysFor(service).lbs)).toBe(String(all.length));

    // The steady service lost nothing: no lease ended, its processing moved to the new master, and a stream granted
    // there has a token above every earlier one.
    for (const stream of steadyStreams) await producer.xAdd(stream, '*', { n: '1' });
    await addStream(producer, steadyService, `steady-${steadyService}-new`);
    await waitFor(() => steadySeen.filter((entry) => entry.fields.n === '1').length === steadyStreams.length, { timeoutMs: 10_000 });
    await waitFor(() => steady.flatMap(({ client }) => client.owned()).length === steadyStreams.length + 1, { timeoutMs: 10_000 });
    expect(steady.flatMap(({ log }) => log.disowned)).toEqual([]);
    const granted = steady.flatMap(({ log }) => log.added).find((lease) => lease.stream === `steady-${steadyService}-new`)!;
    expect(granted.token).toBeGreaterThan(Math.max(...steadyTokensBefore));
    // Its streams' writes are listened for on the new master.
    for (const stream of steadyStreams) expect(await promoted.cli('PUBSUB', 'NUMSUB', `__keyspace@0__:${stream}`)).toMatch(/\n1$/);

    console.info(
      `sentinel failover: promoted ${failedOverAt - killedAt} ms after the kill, every stream owned once ${settledAt - killedAt} ms after it; takeover after it ${takeoverMs} ms`,
    );
  });
});
