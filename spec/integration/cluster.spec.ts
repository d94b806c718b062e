import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import calculateSlot from 'cluster-key-slot';
import { addStream, keysFor, type StreamEntry } from '../../lib/index.js';
import { spawnConsumer, type ConsumerChild } from '../support/consumer-child.js';
import { Fleet, serviceName } from '../support/fleet.js';
import { startCluster, type NodeRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait.js';

const HEARTBEAT_MS = 1000;

let cluster: RedisCluster;
let fleet: Fleet;
let producer: NodeRedisCluster;
const children: ConsumerChild[] = [];

beforeAll(async () => {
  cluster = await startCluster();
});
afterAll(() => cluster.stop());
beforeEach(async () => {
  fleet = new Fleet(cluster.nodes[0]!.url);
  producer = await cluster.connect();
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exited;
  }
  await fleet.close();
});

async function consumers(service: string, count: number, autoClaim = true) {
  return Promise.all(
    Array.from({ length: count }, async () =>
      fleet.consumerOn(await cluster.connect(), { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim }),
    ),
  );
}

async function add(service: string, names: string[]): Promise<void> {
  for (const name of names) await addStream(producer, service, name);
}

function ownedBy(group: Array<{ client: { owned(): Array<{ stream: string }> } }>): string[] {
  return group.flatMap(({ client }) => client.owned().map((lease) => lease.stream));
}

/** The ports of the masters with a live replica, as `node` sees the cluster (CLUSTER NODES). */
async function mastersWithReplica(node: { cli(...args: string[]): Promise<string> }): Promise<Set<number>> {
  const lines = (await node.cli('CLUSTER', 'NODES')).split('\n').map((line) => line.split(' '));
  const portOf = new Map(lines.map(([id, address]) => [id!, Number(address!.split('@')[0]!.split(':').pop())]));
  const live = (flags: string) => !flags.includes('fail');
  const masters = new Set<number>();
  for (const [, , flags, masterId] of lines) {
    if (flags!.includes('slave') && live(flags!) && masterId !== '-') masters.add(portOf.get(masterId!)!);
  }
  return masters;
}

async function slotOf(service: string): Promise<number> {
  return Number(await producer.sendCommand(keysFor(service).lbs, true, ['CLUSTER', 'KEYSLOT', keysFor(service).lbs]));
}

describe('on a Redis Cluster', () => {
  it('assigns, claims, finishes and hands over the streams of several services', async () => {
    const services = [serviceName(), serviceName(), serviceName()];
    const fleets = await Promise.all(services.map((service) => consumers(service, 2, false)));
    await Promise.all(services.map((service) => add(service, ['a', 'b', 'c', 'd'])));
    for (const group of fleets) await waitFor(() => ownedBy(group).length === 4);

    for (const [i, group] of fleets.entries()) {
      const [first, second] = group as [(typeof group)[0], (typeof group)[0]];
      const finished = first.client.owned()[0] ?? second.client.owned()[0]!;
      const owner = first.client.owned().includes(finished) ? first : second;
      await owner.client.doneStream(finished.stream);
      const other = owner === first ? second : first;
      const left = owner.client.owned().map((lease) => lease.stream);
      await owner.client.close();
      await waitFor(() => other.log.expired.length >= left.length, { timeoutMs: 5000 });
      for (const expired of other.log.expired) await other.client.claim(expired);
      expect(other.client.owned().map((lease) => lease.stream).sort()).toEqual(['a', 'b', 'c', 'd'].filter((s) => s !== finished.stream).sort());
      expect(await producer.xLen(keysFor(services[i]!).lbs)).toBe(3);
    }
    // The flags are per node: every master has them, wherever a service's slot may move.
    for (const node of cluster.nodes) {
      if ((await node.cli('ROLE')).startsWith('master')) {
        expect(await node.cli('CONFIG', 'GET', 'notify-keyspace-events')).toMatch(/\n.*x/);
      }
    }
  });

  it('processes streams spread over every master, woken by each node, and goes on from their positions after a hand-off', async () => {
    const service = serviceName();
    const streams = Array.from({ length: 24 }, (_, i) => `spread-${service}-${i}`);
    const masters = new Set(await Promise.all(streams.map(async (stream) => (await cluster.masterOf(calculateSlot(stream))).port)));
    expect(masters.size).toBe(3);
    for (const stream of streams) for (let n = 0; n < 3; n += 1) await producer.xAdd(stream, '*', { n: String(n) });

    const [first, second] = await consumers(service, 2);
    const seen: StreamEntry[] = [];
    for (const { client } of [first!, second!]) client.run({ eachEntry: (entry) => void seen.push(entry), commitIntervalMs: 20 });
    await add(service, streams);
    await waitFor(() => seen.length === 72, { timeoutMs: 20_000 });
    // Written once owned: each node announces its own streams' writes (well before the 10 s sweep).
    for (const stream of streams) await producer.xAdd(stream, '*', { n: '3' });
    await waitFor(() => seen.length === 96, { timeoutMs: 5000 });

    // One consumer leaves: the other goes on from the committed positions, processing nothing twice.
    const leaving = first!.client.owned().length > 0 ? first! : second!;
    const staying = leaving === first ? second! : first!;
    const leavingCount = leaving.client.owned().length;
    await leaving.client.close();
    await waitFor(() => staying.client.owned().length === 24, { timeoutMs: 10_000 });
    // Handed over directly: the message that wakes the receiver reaches it on the cluster too.
    expect(staying.log.added.filter((lease) => lease.origin === 'handoff')).toHaveLength(leavingCount);
    for (const stream of streams) await producer.xAdd(stream, '*', { n: '4' });
    await waitFor(() => seen.length === 120, { timeoutMs: 10_000 });
    for (const stream of streams) {
      expect(seen.filter((entry) => entry.stream === stream).map((entry) => Number(entry.fields.n))).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('takes over a SIGKILLed consumer within heartbeatMs + 500 ms', async () => {
    const service = serviceName();
    const victim = await spawnConsumer(cluster.nodes.map((node) => node.url), { serviceName: service, heartbeatMs: HEARTBEAT_MS });
    children.push(victim);
    const survivors = await consumers(service, 2);
    const names = Array.from({ length: 30 }, (_, i) => `s${i}`);
    await add(service, names);
    await waitFor(() => victim.owned().size + ownedBy(survivors).length === names.length);
    expect(victim.owned().size).toBeGreaterThan(0);

    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await waitFor(() => ownedBy(survivors).length === names.length, { timeoutMs: 10_000 });
    expect(Date.now() - killedAt).toBeLessThanOrEqual(HEARTBEAT_MS + 500);
  });

  it("survives a failover of the master that owns the service's slot", async () => {
    const service = serviceName();
    const group = await consumers(service, 3);
    await add(service, ['a', 'b', 'c', 'd', 'e', 'f']);
    await waitFor(() => ownedBy(group).length === 6);
    const tokensBefore = group.flatMap(({ log }) => log.added.map((lease) => lease.token));
    const grantsBefore = group.map(({ log }) => log.added.length);

    const slot = await slotOf(service);
    const master = await cluster.masterOf(slot);
    master.kill('SIGKILL');
    // The replica takes over; every stream is owned again (some by their owner's new incarnation).
    await waitFor(async () => (await cluster.masterOf(slot)) !== master, { timeoutMs: 20_000 });
    // node-redis v4's cluster client does not notice the failover by itself: producers need a fresh one.
    producer = await cluster.connect();
    await add(service, ['g', 'h']);
    await waitFor(() => new Set(ownedBy(group)).size === 8 && ownedBy(group).length === 8, { timeoutMs: 20_000 });

    // The promoted replica started without the flags; the consumers set them.
    const promoted = await cluster.masterOf(slot);
    expect(await promoted.cli('CONFIG', 'GET', 'notify-keyspace-events')).toMatch(/\n.*x/);
    // A consumer that dies after the failover is still taken over: the subscriber and the flags followed.
    const [leaving, ...staying] = group as [(typeof group)[0], ...typeof group];
    await leaving.client.close();
    await waitFor(() => ownedBy(staying).length === 8, { timeoutMs: 5000 });

    const tokensAfter = group.flatMap(({ log }, i) => log.added.slice(grantsBefore[i]).map((lease) => lease.token));
    expect(tokensAfter.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...tokensAfter)).toBeGreaterThan(Math.max(...tokensBefore));
  });

  it("keeps working while the service's slot migrates to another master", async () => {
    const service = serviceName();
    const group = await consumers(service, 2);
    await add(service, ['a', 'b', 'c']);
    await waitFor(() => ownedBy(group).length === 3);

    const slot = await slotOf(service);
    const source = await cluster.masterOf(slot);
    const masters = await Promise.all(
      cluster.nodes.map(async (node) => ((await node.cli('ROLE').catch(() => '')).startsWith('master') ? node : undefined)),
    );
    const target = masters.find((node) => node && node !== source)!;
    const sourceId = await source.cli('CLUSTER', 'MYID');
    const targetId = await target.cli('CLUSTER', 'MYID');
    await target.cli('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
    await source.cli('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
    for (;;) {
      const keys = (await source.cli('CLUSTER', 'GETKEYSINSLOT', String(slot), '100')).split('\n').filter(Boolean);
      if (keys.length === 0) break;
      await source.cli('MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys);
    }
    for (const node of masters) if (node) await node.cli('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);

    await add(service, ['d', 'e']);
    await waitFor(() => ownedBy(group).length === 5, { timeoutMs: 15_000 });
    const [leaving, staying] = group as [(typeof group)[0], (typeof group)[0]];
    await leaving.client.close();
    await waitFor(() => staying.client.owned().length === 5, { timeoutMs: 10_000 });
  });
  // Last: it leaves a master without a replica.
  it('goes on processing the streams of a master that failed over to its replica', async () => {
    const service = serviceName();
    const serviceMaster = await cluster.masterOf(await slotOf(service));
    // Streams on a master that does not hold the service's keys (its failover only concerns the data), and that
    // has a replica to fail over to (earlier failovers leave masters without one).
    const withReplica = await mastersWithReplica(serviceMaster);
    const candidates = Array.from({ length: 60 }, (_, i) => `failing-over-${service}-${i}`);
    const onMaster = await Promise.all(candidates.map(async (stream) => (await cluster.masterOf(calculateSlot(stream))).port));
    const victimPort = onMaster.find((port) => port !== serviceMaster.port && withReplica.has(port))!;
    expect(victimPort).toBeDefined();
    const streams = candidates.filter((_, i) => onMaster[i] === victimPort).slice(0, 5);
    const [consumer] = await consumers(service, 1);
    const seen: StreamEntry[] = [];
    consumer!.client.run({ eachEntry: (entry) => void seen.push(entry), commitIntervalMs: 20 });
    await add(service, streams);
    for (const stream of streams) await producer.xAdd(stream, '*', { n: '0' });
    await waitFor(() => seen.length === 5, { timeoutMs: 10_000 });

    const victim = cluster.nodes.find((node) => node.port === victimPort)!;
    const slot = calculateSlot(streams[0]!);
    victim.kill('SIGKILL');
    await waitFor(async () => (await cluster.masterOf(slot)) !== victim, { timeoutMs: 20_000 });
    producer = await cluster.connect();
    for (const stream of streams) await producer.xAdd(stream, '*', { n: '1' });
    await waitFor(() => seen.length === 10, { timeoutMs: 20_000 });
    for (const stream of streams) {
      expect(seen.filter((entry) => entry.stream === stream).map((entry) => Number(entry.fields.n))).toEqual([0, 1]);
    }
  });
});
