import { describe, expect, it } from 'vitest';
import { ConfigError, addStream, keysFor, type RedisStreamClient, type RedisStreamClientOptions, type StreamLease } from '../../lib/index.js';
import type { EventLog } from '../support/fleet.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const HEARTBEAT_MS = 1000;

const redis = useRedisServer();

type Consumer = { client: RedisStreamClient; log: EventLog };

async function addStreams(service: string, count: number, from = 0): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `stream-${from + i}`);
  for (const name of names) await addStream(redis.admin, service, name);
  return names;
}

function consumer(service: string, options: Partial<RedisStreamClientOptions> = {}): Promise<Consumer> {
  return redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, ...options });
}

const counts = (consumers: Consumer[]): number[] => consumers.map(({ client }) => client.owned().length);

/** Every stream owned by exactly one of `consumers`, as each of them believes. */
function ownedOnce(consumers: Consumer[], names: string[]): boolean {
  const owners = consumers.flatMap(({ client }) => client.owned().map((lease) => lease.stream));
  return owners.length === names.length && new Set(owners).size === names.length;
}

/** What Redis says each consumer owns (its pending LBS entries). */
async function pendingCounts(service: string): Promise<Record<string, number>> {
  const keys = keysFor(service);
  const rows = (await redis.admin.sendCommand(['XPENDING', keys.lbs, keys.group, '-', '+', '100000'])) as Array<[string, string]>;
  const result: Record<string, number> = {};
  for (const [, consumerId] of rows) result[consumerId] = (result[consumerId] ?? 0) + 1;
  return result;
}

describe('rebalancing on join', () => {
  it('moves only the excess to a consumer that joins, as hand-offs with higher tokens, until shares are fair', async () => {
    const service = serviceName();
    const first = await Promise.all([consumer(service), consumer(service)]);
    const names = await addStreams(service, 40);
    await waitFor(() => ownedOnce(first, names));
    const tokens = new Map(first.flatMap(({ client }) => client.owned().map((lease) => [lease.stream, lease.token])));

    const joiner = await consumer(service);
    const all = [...first, joiner];
    // 40 over 3: 13.3 each, within the tolerance up to 14.
    await waitFor(() => ownedOnce(all, names) && counts(all).every((count) => count >= 12 && count <= 14), { timeoutMs: 10_000 });

    // The joiner needs 13 (40 / 3, rounded down); what rounding leaves over may move once more.
    const moved = all.flatMap(({ log }) => log.added.filter((lease) => lease.origin !== 'new'));
    expect(joiner.log.added.length).toBeGreaterThanOrEqual(13);
    expect(moved.length).toBeLessThanOrEqual(14);
    for (const lease of moved) {
      expect(lease.origin).toBe('handoff');
      expect(lease.recovered).toBe(true);
      expect(lease.token).toBeGreaterThan(tokens.get(lease.stream)!);
    }
    const released = all.flatMap(({ log }) => log.released);
    expect(released.map(({ lease }) => lease.stream).sort()).toEqual(moved.map((lease) => lease.stream).sort());
    expect(new Set(released.map(({ lease }) => lease.stream)).size).toBe(released.length); // none moved twice
    for (const { lease, reason } of released) {
      expect(reason).toBe('rebalance');
      expect(lease.signal.aborted).toBe(true);
    }
    for (const { log } of first) expect(log.disowned).toEqual([]);
    expect(await pendingCounts(service)).toEqual(Object.fromEntries(all.map(({ client }) => [client.id(), client.owned().length])));
  });

  it('shares by weight (1:2:3) and never above maxStreams', async () => {
    const service = serviceName();
    const heavy = await consumer(service, { weight: 3 });
    const names = await addStreams(service, 60);
    await waitFor(() => heavy.client.owned().length === 60);
    const medium = await consumer(service, { weight: 2 });
    const light = await consumer(service);
    const all = [light, medium, heavy];
    await waitFor(() => ownedOnce(all, names) && counts(all).join() === '10,20,30', { timeoutMs: 10_000 });

    const capped = await consumer(service, { weight: 100, maxStreams: 5 });
    // The capped consumer holds 5; the other 55 are shared 1:2:3 (9.2, 18.3, 27.5), each within the tolerance.
    await waitFor(
      () => {
        const [l, m, h, c] = counts([...all, capped]);
        return ownedOnce([...all, capped], names) && c === 5 && l! >= 9 && l! <= 10 && m! >= 18 && m! <= 20 && h! >= 27 && h! <= 30;
      },
      { timeoutMs: 10_000 },
    );
  });

  it('hands a manual-mode consumer its share as streamExpired from the live giver, to claim', async () => {
    const service = serviceName();
    const giver = await consumer(service, { autoClaim: false });
    const names = await addStreams(service, 10);
    await waitFor(() => giver.client.owned().length === 10);
    const receiver = await consumer(service, { autoClaim: false });
    const offered = await waitFor(() => receiver.log.expired.length >= 5 && receiver.log.expired, { timeoutMs: 10_000 });
    expect(offered.every((expired) => expired.previousOwner === giver.client.id())).toBe(true);
    expect(giver.log.released).toHaveLength(offered.length);

    // Offered, not owned: until claimed, no lease, and the stream is not taken back as a stray.
    expect(receiver.client.owned()).toEqual([]);
    const leases = await Promise.all(offered.map((expired) => receiver.client.claim(expired)));
    for (const lease of leases) expect(lease).toMatchObject({ origin: 'handoff', consumerId: receiver.client.id() });
    expect(ownedOnce([giver, receiver], names)).toBe(true);
  });
});

describe('stable shares', () => {
  it('moves nothing in a fleet whose shares are within the tolerance', async () => {
    const service = serviceName();
    const all = await Promise.all([consumer(service), consumer(service), consumer(service)]);
    const names = await addStreams(service, 30);
    await waitFor(() => ownedOnce(all, names));
    // Six heartbeats or more of each consumer (each extends its deadline by a third of heartbeatMs), each of which
    // could start a round: none does.
    const keys = keysFor(service);
    const deadlines = () => Promise.all(all.map(({ client }) => redis.admin.zScore(keys.consumers, client.id())));
    const before = await deadlines();
    await waitFor(async () => (await deadlines()).every((deadline, i) => deadline! >= before[i]! + 2 * HEARTBEAT_MS), { timeoutMs: 10_000 });
    expect(all.flatMap(({ log }) => log.released)).toEqual([]);
    expect(all.flatMap(({ log }) => log.added.filter((lease) => lease.origin !== 'new'))).toEqual([]);
  });
});

describe('leave', () => {
  it('close() hands every stream to the consumers furthest below their share, at once, reason close', async () => {
    const service = serviceName();
    const leaving = await consumer(service, { heartbeatMs: 10_000 });
    const names = await addStreams(service, 12);
    await waitFor(() => leaving.client.owned().length === 12);
    const stayers = await Promise.all([consumer(service, { heartbeatMs: 10_000, rebalance: false }), consumer(service, { heartbeatMs: 10_000, rebalance: false })]);
    const held = leaving.client.owned();

    await leaving.client.close();
    // Long before a heartbeat of 10 s could tell anyone.
    await waitFor(() => ownedOnce(stayers, names), { timeoutMs: 2000 });
    expect(counts(stayers)).toEqual([6, 6]);
    expect(leaving.log.released.map(({ reason }) => reason)).toEqual(Array(12).fill('close'));
    expect(held.every((lease) => lease.signal.aborted)).toBe(true);
    for (const { log } of stayers) for (const lease of log.added) expect(lease.origin).toBe('handoff');
    // Nothing was left pending under it: it is gone from the fleet, consumer group included.
    const keys = keysFor(service);
    const groupConsumers = (await redis.admin.sendCommand(['XINFO', 'CONSUMERS', keys.lbs, keys.group])) as unknown[][];
    expect(groupConsumers.map((fields) => fields[1])).not.toContain(leaving.client.id());
    expect(await redis.admin.exists(`${keys.sessionPrefix}${leaving.client.id()}`)).toBe(0);
  });

  it('close() with nobody else alive leaves the streams for the next consumer, which takes them over', async () => {
    const service = serviceName();
    const leaving = await consumer(service);
    const names = await addStreams(service, 3);
    await waitFor(() => leaving.client.owned().length === 3);
    await leaving.client.close();
    expect(leaving.log.released.map(({ reason }) => reason)).toEqual(['close', 'close', 'close']);
    const next = await consumer(service);
    await waitFor(() => ownedOnce([next], names), { timeoutMs: 5000 });
    expect(next.log.added.map((lease) => lease.origin)).toEqual(['takeover', 'takeover', 'takeover']);
  });
});

describe('drain and resume', () => {
  it('drain() hands everything over and takes nothing new until resume(), which brings back a share', async () => {
    const service = serviceName();
    const drainer = await consumer(service);
    const names = await addStreams(service, 10);
    await waitFor(() => drainer.client.owned().length === 10);
    const other = await consumer(service);

    // The drainer's LBS read blocks for 5 s from its last take: drain() ends it early rather than wait it out.
    const drainStarted = performance.now();
    const result = await drainer.client.drain({ timeoutMs: 5000 });
    expect(performance.now() - drainStarted).toBeLessThan(2500);
    expect(result).toEqual({ handedOver: 10, kept: [] });
    expect(drainer.client.owned()).toEqual([]);
    await waitFor(() => ownedOnce([other], names));
    expect(drainer.log.released.filter(({ reason }) => reason === 'drain').length).toBeGreaterThan(0);

    const more = await addStreams(service, 4, 10);
    await waitFor(() => ownedOnce([other], [...names, ...more]));
    expect(drainer.client.owned()).toEqual([]);

    await drainer.client.resume();
    await waitFor(() => counts([drainer, other]).every((count) => count >= 6), { timeoutMs: 10_000 });
    expect(ownedOnce([drainer, other], [...names, ...more])).toBe(true);
  });

  it('drain() with nobody to receive keeps the streams, owned, once its time is up', async () => {
    const service = serviceName();
    const alone = await consumer(service);
    const names = await addStreams(service, 3);
    await waitFor(() => alone.client.owned().length === 3);
    const held = alone.client.owned();

    const result = await alone.client.drain({ timeoutMs: 300 });

    expect(result.handedOver).toBe(0);
    expect(result.kept.map((lease: StreamLease) => lease.stream).sort()).toEqual(names);
    expect(held.every((lease) => !lease.signal.aborted)).toBe(true);
    expect(alone.log.released).toEqual([]);
  });
});

describe('restart grace', () => {
  /** Resolves once every given consumer has extended its session `heartbeats` more times (a third of heartbeatMs each). */
  async function heartbeatsPass(service: string, consumers: Consumer[], heartbeats: number): Promise<void> {
    const deadline = (consumer: Consumer) => redis.admin.zScore(keysFor(service).consumers, consumer.client.id());
    const before = await Promise.all(consumers.map(deadline));
    await waitFor(async () => (await Promise.all(consumers.map(deadline))).every((at, i) => at! >= before[i]! + (heartbeats * HEARTBEAT_MS) / 3));
  }

  it('keeps the streams for the same consumerId: nobody else takes them, and it takes them back', async () => {
    const service = serviceName();
    const options = { consumerId: `${service}-a`, restartGraceMs: 30_000, rebalance: false };
    const restarting = await consumer(service, options);
    const names = await addStreams(service, 6);
    await waitFor(() => restarting.client.owned().length === 6);
    const other = await consumer(service, { rebalance: false });
    const held = restarting.client.owned();

    await restarting.client.close({ restart: true });
    expect(restarting.log.released.map(({ reason }) => reason)).toEqual(Array(6).fill('close'));
    expect(held.every((lease) => lease.signal.aborted)).toBe(true);
    await heartbeatsPass(service, [other], 6);
    expect(other.log.added).toEqual([]);
    expect(other.log.expired).toEqual([]);

    const back = await consumer(service, options);
    await waitFor(() => ownedOnce([back], names));
    for (const lease of back.log.added) {
      expect(lease.origin).toBe('restart');
      expect(lease.token).toBeGreaterThan(held.find((old) => old.stream === lease.stream)!.token);
    }
    expect(other.log.added).toEqual([]);
  });

  it('past the grace, the others take the streams over', async () => {
    const service = serviceName();
    const restarting = await consumer(service, { consumerId: `${service}-a`, restartGraceMs: 500, rebalance: false });
    const names = await addStreams(service, 4);
    await waitFor(() => restarting.client.owned().length === 4);
    const other = await consumer(service, { rebalance: false });
    await restarting.client.close({ restart: true });
    await waitFor(() => ownedOnce([other], names), { timeoutMs: 5000 });
    expect(other.log.added.map((lease) => lease.origin)).toEqual(Array(4).fill('takeover'));
  });

  it('needs an explicit consumerId, and keeps running without one', async () => {
    const service = serviceName();
    const { client } = await consumer(service);
    const failure = await client.close({ restart: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure).toMatchObject({ setting: 'consumerId' });
    expect(client.owned()).toEqual([]);
    await expect(client.getPosition('x')).resolves.toBeUndefined(); // still running
  });
});

describe('protocol version', () => {
  it('refuses to start, with a ConfigError, in a service whose consumers run a later protocol', async () => {
    const service = serviceName();
    await redis.admin.set(keysFor(service).protocol, '999');
    const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS }, { start: false });
    const failure = await client.init().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect(failure).toMatchObject({ setting: 'protocol', message: expect.stringContaining('protocol version 999') });
  });
});
