import { beforeAll, describe, expect, it } from 'vitest';
import { AlreadyClaimedError, DeadLetterError, addStream, keysFor } from '../../lib/index.js';
import { sessionKey } from '../../lib/keys.js';
import { Fleet, serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const HEARTBEAT_MS = 1000;

// DEBUG SLEEP pauses the whole server, as a stall of Redis itself would.
const redis = useRedisServer({ args: ['--enable-debug-command', 'yes'] });
beforeAll(async () => {
  // 20,000 unrelated keys with a 1-hour TTL: Redis's own expiry cycle then finds an expired session late.
  const connection = await new Fleet(redis.server.url).connect();
  for (let batch = 0; batch < 20; batch++) {
    const multi = connection.multi();
    for (let i = 0; i < 1000; i++) multi.set(`cache:${batch}:${i}`, 'x', { EX: 3600 });
    await multi.exec();
  }
  await connection.disconnect();
});

async function addStreams(service: string, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `stream-${i}`);
  for (const name of names) await addStream(redis.admin, service, name);
  return names;
}

describe('claim', () => {
  it('has exactly one winner among concurrent claimers, with a higher fencing token', async () => {
    const service = serviceName();
    const owner = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    const [stream] = await addStreams(service, 1);
    const lease = await waitFor(() => owner.owned().get(stream!));
    const claimers = await Promise.all([1, 2, 3, 4].map(() => redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS })));
    owner.kill('SIGKILL');
    await waitFor(() => claimers.every(({ log }) => log.expired.length > 0), { timeoutMs: 5000 });

    const results = await Promise.allSettled(claimers.map(({ client, log }) => client.claim(log.expired[0]!)));
    const won = results.filter((result) => result.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(AlreadyClaimedError);
    }
    expect(won[0]!.value.token).toBeGreaterThan(lease!.token);
    // client.metrics() counts each claim's outcome.
    const claims = claimers.map(({ client }) => client.metrics().claims);
    expect(claims.reduce((total, { won: count }) => total + count, 0)).toBe(1);
    expect(claims.reduce((total, { lost }) => total + lost, 0)).toBe(3);
  });

  it('is refused while the owner is alive, and for a payload that does not match its entry', async () => {
    const service = serviceName();
    const owner = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    const thief = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, maxStreams: 1 });
    await addStreams(service, 4);
    await waitFor(() => owner.log.added.length + thief.log.added.length === 4);
    const victim = owner.client.owned()[0]!;
    const forged = { stream: victim.stream, lbsId: victim.lbsId, info: {}, previousOwner: owner.client.id() };

    await expect(thief.client.claim(forged)).rejects.toMatchObject({ reason: 'owner-alive' });
    await owner.client.close();
    await waitFor(() => thief.log.expired.length > 0, { timeoutMs: 5000 });
    await expect(thief.client.claim({ ...forged, stream: 'another-name' })).rejects.toMatchObject({ reason: 'mismatch' });
    const lease = await thief.client.claim(forged);
    expect(lease.stream).toBe(victim.stream);
    await expect(thief.client.claim(forged)).rejects.toMatchObject({ reason: 'taken' });
  });
});

describe('claim, given payloads nobody expects', () => {
  /** Four streams of a consumer that handed them over, reported to one survivor. */
  async function expiredStreams(service: string, info?: Record<string, unknown>) {
    const owner = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    for (let i = 0; i < 4; i++) await addStream(redis.admin, service, `stream-${i}`, info);
    await waitFor(() => owner.log.added.length === 4);
    const claimer = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    await owner.client.close();
    const expired = await waitFor(() => claimer.log.expired.length >= 4 && claimer.log.expired.slice(0, 4), { timeoutMs: 5000 });
    return { claimer, expired };
  }

  it('refuses a malformed payload alone, and leaves no grant without a lease', async () => {
    const service = serviceName();
    const keys = keysFor(service);
    const { claimer, expired } = await expiredStreams(service);
    // Passes a naive id pattern; Redis rejects it (each part is a 64-bit number).
    const forged = { ...expired[0]!, lbsId: '99999999999999999999999-0' };
    const results = await Promise.allSettled([forged, ...expired].map((payload) => claimer.client.claim(payload)));
    expect(results[0]).toMatchObject({ status: 'rejected', reason: expect.any(TypeError) });
    expect(results.slice(1).map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    const pending = await redis.admin.xPendingRange(keys.lbs, keys.group, '-', '+', 10, { consumer: claimer.client.id() });
    expect(pending.map((entry) => entry.id).sort()).toEqual(claimer.client.owned().map((lease) => lease.lbsId).sort());
  });

  it("resolves with the entry's own Info, not the caller's, keeping every key JSON allows", async () => {
    const service = serviceName();
    const info = JSON.parse('{"__proto__": {"nested": 1}, "customer": "c-1"}') as Record<string, unknown>;
    const { claimer, expired } = await expiredStreams(service, info);
    const asReported = await claimer.client.claim(expired[0]!);
    const forged = await claimer.client.claim({ ...expired[1]!, info: { forged: true } });
    for (const lease of [asReported, forged]) {
      expect(lease.info).not.toHaveProperty('forged');
      expect(lease.info.customer).toBe('c-1');
      expect(Object.hasOwn(lease.info, '__proto__')).toBe(true);
    }
  });
});

describe('a poison stream', () => {
  // autoClaim claims whatever the entries name; a manual claim names the stream, which claim.lua checks against
  // the ownership record instead of reading the entry: both must count deliveries alike.
  it.each([
    { mode: 'autoClaim', autoClaim: true },
    { mode: 'manual claim', autoClaim: false },
  ])('goes to the dead-letter stream once its owners died maxDeliveries times, and close() hand-offs do not count ($mode)', async ({ autoClaim }) => {
    const service = serviceName();
    const options = { serviceName: service, heartbeatMs: 300, autoClaim, maxDeliveries: 2 };
    const owner = () => redis.spawnConsumer(options, { claimExpired: !autoClaim });
    const first = await owner();
    await addStreams(service, 1);
    await waitFor(() => first.owned().size === 1);
    // A hand-off by close() is not a failure.
    const second = await owner();
    await first.request({ command: 'close' });
    await waitFor(() => second.owned().size === 1, { timeoutMs: 5000 });
    // Two owners die with it: the next one dead-letters it.
    const third = await owner();
    second.kill('SIGKILL');
    await waitFor(() => third.owned().size === 1, { timeoutMs: 5000 });
    const fourth = await redis.fleet.consumer(options);
    third.kill('SIGKILL');
    if (autoClaim) {
      await waitFor(() => fourth.log.errors.some((error) => error instanceof DeadLetterError), { timeoutMs: 5000 });
    } else {
      const [expired] = await waitFor(() => fourth.log.expired.length > 0 && fourth.log.expired, { timeoutMs: 5000 });
      await expect(fourth.client.claim(expired!)).rejects.toMatchObject({ reason: 'poison' });
    }
    expect(fourth.client.owned()).toHaveLength(0);
    const [dead] = await redis.admin.xRange(keysFor(service).deadLetter, '-', '+');
    expect(dead!.message.reason).toMatch(/died 2 times/);
    expect(await redis.admin.xLen(keysFor(service).lbs)).toBe(0);
  });

  it('does not count server-wide pauses, which end every session at once, as deaths of the owners', async () => {
    const service = serviceName();
    const options = { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, maxDeliveries: 3 };
    const consumers = await Promise.all([1, 2, 3].map(() => redis.fleet.consumer(options)));
    const names = await addStreams(service, 12);
    const owned = () => consumers.flatMap(({ client }) => client.owned().map((lease) => lease.stream));
    const disowned = () => consumers.reduce((sum, { log }) => sum + log.disowned.length, 0);
    await waitFor(() => owned().length === names.length);
    for (let pause = 1; pause <= 4; pause++) {
      const before = disowned();
      await redis.server.cli('DEBUG', 'SLEEP', String((1.5 * HEARTBEAT_MS) / 1000));
      // Every session ended with the pause; every stream comes back to a consumer.
      await waitFor(() => disowned() >= before + names.length, { timeoutMs: 5000 });
      await waitFor(() => owned().length === names.length && owned(), { timeoutMs: 10_000 });
    }
    const keys = keysFor(service);
    expect(await redis.admin.xLen(keys.deadLetter)).toBe(0);
    expect(owned().sort()).toEqual([...names].sort());
    const pending = await redis.admin.xPendingRange(keys.lbs, keys.group, '-', '+', 100);
    expect(pending.map((entry) => entry.deliveriesCounter)).toEqual(names.map(() => 1));
  });
});

describe('a consumer that dies', () => {
  it('hands its streams over at once on close()', async () => {
    const service = serviceName();
    const leaving = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 10_000 });
    await addStreams(service, 20);
    await waitFor(() => leaving.log.added.length === 20);
    const staying = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 10_000, autoClaim: true });

    const closedAt = Date.now();
    await leaving.client.close();
    await waitFor(() => staying.client.owned().length === 20, { timeoutMs: 5000 });
    // Well under one heartbeat (10 s): the session ended at once rather than timing out.
    expect(Date.now() - closedAt).toBeLessThan(2000);
    expect(leaving.log.disowned).toHaveLength(0);
    expect(leaving.log.added.every((lease) => lease.signal.aborted)).toBe(true);
  });

  it('has its session gone by Redis when close() resolves, so that peers are told at once', async () => {
    // The session is set to expire in 1 ms and touched until Redis has expired it: a touch that comes too early
    // (about 1 in 100 after a fixed wait) would leave peers to notice at their next heartbeat instead.
    const service = serviceName();
    for (let i = 0; i < 100; i++) {
      const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 10_000 });
      await client.close();
      expect(await redis.admin.exists(sessionKey(keysFor(service), client.id()))).toBe(0);
    }
  });

  it('loses its streams within heartbeatMs + 500 ms of a SIGKILL, despite 20,000 other TTL keys', async () => {
    const service = serviceName();
    // Without rebalancing: what the victim holds at the kill is what it took.
    const victim = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
    const survivors = await Promise.all(
      [1, 2].map(() => redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false })),
    );
    const names = await addStreams(service, 30);
    const owned = () => new Set(survivors.flatMap(({ client }) => client.owned().map((lease) => lease.stream)));
    await waitFor(() => victim.owned().size + owned().size === names.length);
    const victims = [...victim.owned().keys()];
    expect(victims.length).toBeGreaterThan(0);

    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await waitFor(() => owned().size === names.length, { timeoutMs: 10_000 });
    const recovered = survivors.flatMap(({ log }) => log.added.filter((lease) => lease.origin === 'takeover'));
    expect(recovered.map((lease) => lease.stream).sort()).toEqual(victims.sort());
    expect(Date.now() - killedAt).toBeLessThanOrEqual(HEARTBEAT_MS + 500);
  });

  // More streams than one listing page (1,000) and one claim batch (500): survivors act on each page as it comes.
  it.each([
    { mode: 'autoClaim', autoClaim: true },
    { mode: 'manual claim', autoClaim: false },
  ])('hands 2,500 streams to the survivors, each exactly once with a higher token ($mode)', async ({ autoClaim }) => {
    const service = serviceName();
    const victim = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    const names = await addStreams(service, 2500);
    await waitFor(() => victim.owned().size === names.length, { timeoutMs: 10_000 });
    const options = { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim };
    const survivors = await Promise.all([1, 2].map(() => redis.fleet.consumer(options)));
    const refusals: unknown[] = [];
    if (!autoClaim) {
      for (const { client } of survivors) {
        client.on('streamExpired', (expired) => void client.claim(expired).catch((error: unknown) => refusals.push(error)));
      }
    }

    victim.kill('SIGKILL');
    const holdings = () => survivors.map(({ client }) => client.owned());
    await waitFor(() => holdings().flat().length >= names.length, { timeoutMs: 10_000 });
    const held = holdings().flat();
    expect(held.map((lease) => lease.stream).sort()).toEqual([...names].sort());
    expect(holdings().every((leases) => leases.length > 0)).toBe(true);
    expect(refusals.every((error) => error instanceof AlreadyClaimedError)).toBe(true);
    const victimTokens = new Map(victim.reports.flatMap((r) => (r.event === 'streamAdded' ? [[r.stream, r.token] as const] : [])));
    for (const lease of held) expect(lease.token).toBeGreaterThan(victimTokens.get(lease.stream)!);
  });

  it('has every survivor take its share when only the sweep noticed the death (notifications off)', async () => {
    const service = serviceName();
    const victim = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    const names = await addStreams(service, 40);
    await waitFor(() => victim.owned().size === names.length);
    const survivors = await Promise.all([1, 2].map(() => redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true })));
    const [, flags] = (await redis.admin.sendCommand(['CONFIG', 'GET', 'notify-keyspace-events'])) as string[];
    await redis.admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', '']);
    try {
      victim.kill('SIGKILL');
      const holdings = () => survivors.map(({ client }) => client.owned().length);
      await waitFor(() => holdings().reduce((a, b) => a + b) === names.length, { timeoutMs: 10_000 });
      // Each survivor took the streams rendezvous hashing gives it, not one survivor all of them after a grace.
      expect(holdings().every((count) => count > 0)).toBe(true);
    } finally {
      await redis.admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', flags!]);
    }
  });

  it('is replaced when stopped, and reports streamDisowned with aborted signals when it resumes', async () => {
    const service = serviceName();
    const victim = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS });
    const survivor = await redis.fleet.consumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true });
    await addStreams(service, 20);
    await waitFor(() => victim.owned().size + survivor.client.owned().length === 20);
    const stalled = [...victim.owned().keys()];
    expect(stalled.length).toBeGreaterThan(0);

    victim.kill('SIGSTOP');
    await waitFor(() => survivor.client.owned().length === 20, { timeoutMs: 3 * HEARTBEAT_MS });
    victim.kill('SIGCONT');
    const disowned = await waitFor(() => {
      const reports = victim.reports.filter((report) => report.event === 'streamDisowned');
      return reports.length === stalled.length && reports;
    });
    expect(disowned.every((report) => report.event === 'streamDisowned' && report.aborted)).toBe(true);
    // It says why, stays a member of the fleet, and holds nothing its peer holds.
    expect(victim.reports.some((r) => r.event === 'error' && /session ended/.test(r.message))).toBe(true);
    await waitFor(() => victim.owned().size === 0);
    expect(survivor.client.owned()).toHaveLength(20);
    expect(await redis.admin.xLen(keysFor(service).lbs)).toBe(20);
  });
});
