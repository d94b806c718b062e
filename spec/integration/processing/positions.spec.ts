import { expect, it } from 'vitest';
import { NotOwnerError, StreamProcessingError, addStream, keysFor, type StreamEntry } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append, upTo } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it('goes on where the last owner stopped after a close() hand-off, and after a restart with the same consumerId', async () => {
  const service = serviceName();
  const stream = `handed-${service}`;
  await append(redis.admin, stream, 10);
  const first = new Seen();
  const a = await redis.fleet.consumer({ serviceName: service, consumerId: 'a', heartbeatMs: 1000, autoClaim: true });
  a.client.run({ eachEntry: first.record });
  await addStream(redis.admin, service, stream);
  await waitFor(() => first.count === 10);

  const second = new Seen();
  const b = await redis.fleet.consumer({ serviceName: service, consumerId: 'b', heartbeatMs: 1000, autoClaim: true });
  b.client.run({ eachEntry: second.record });
  // close() commits what was processed before it hands the stream over.
  await a.client.close();
  await append(redis.admin, stream, 5, 10);
  await waitFor(() => second.count === 5);
  expect(second.numbers(stream)).toEqual(upTo(15, 10));

  // b comes back as a new process with the same consumerId: it goes on after the last commit.
  await waitFor(async () => (await b.client.getPosition(stream)) === second.entries.at(-1)!.id);
  await b.client.close();
  const third = new Seen();
  const again = await redis.fleet.consumer({ serviceName: service, consumerId: 'b', heartbeatMs: 1000, autoClaim: true }, { start: false });
  again.client.run({ eachEntry: third.record });
  await again.client.init();
  await append(redis.admin, stream, 3, 15);
  await waitFor(() => third.count === 3);
  expect(third.numbers(stream)).toEqual(upTo(18, 15));
});

it('refuses the commit of an owner whose token is below the last writer, and ends its lease', async () => {
  const service = serviceName();
  const stream = `fenced-${service}`;
  await append(redis.admin, stream, 2);
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record, commitIntervalMs: 20 });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 2);
  const lease = log.added[0]!;
  await waitFor(async () => (await client.getPosition(stream)) === seen.entries[1]!.id);
  // A later owner has written the position (as after a takeover this consumer did not notice).
  await redis.admin.hSet(keysFor(service).positionTokens, stream, String(lease.token + 1));
  await append(redis.admin, stream, 1, 2);
  await waitFor(() => log.disowned.length === 1);
  expect(log.disowned[0]).toBe(lease);
  expect(lease.signal.aborted).toBe(true);
  expect(await client.getPosition(stream)).toBe(seen.entries[1]!.id);
  expect(client.owned()).toEqual([]);
  expect(lease.signal.reason).toBeInstanceOf(StreamProcessingError);
  // No handler starts for it any more.
  await append(redis.admin, stream, 1, 3);
  expect(seen.count).toBeLessThanOrEqual(3);
});

it("with startAt 'new', stores where it starts at the first grant, so a takeover before any commit skips nothing", async () => {
  const service = serviceName();
  const stream = `new-${service}`;
  const old = await append(redis.admin, stream, 5);
  const stuck: StreamEntry[] = [];
  const a = await redis.fleet.consumer({ serviceName: service, consumerId: 'a', heartbeatMs: 1000, autoClaim: true });
  // The first owner never finishes an entry: nothing is ever committed by it.
  a.client.run({
    startAt: 'new',
    eachEntry: (entry) => {
      stuck.push(entry);
      return new Promise(() => undefined);
    },
  });
  await addStream(redis.admin, service, stream);
  await waitFor(async () => (await a.client.getPosition(stream)) === old.at(-1));
  await append(redis.admin, stream, 3, 5);
  await waitFor(() => stuck.length === 1);

  const seen = new Seen();
  const b = await redis.fleet.consumer({ serviceName: service, consumerId: 'b', heartbeatMs: 1000, autoClaim: true });
  b.client.run({ startAt: 'new', eachEntry: seen.record });
  await a.client.close({ timeoutMs: 200 });
  await waitFor(() => seen.count === 3);
  expect(seen.numbers(stream)).toEqual([5, 6, 7]);
});

it('lets the owner rewind with setPosition, lets anyone seed a stream nobody owns, and refuses the others', async () => {
  const service = serviceName();
  const stream = `rewound-${service}`;
  const ids = await append(redis.admin, stream, 6);
  const seeded = `seeded-${service}`;
  const seededIds = await append(redis.admin, seeded, 4);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  await expect(client.setPosition(stream, 'not-an-id')).rejects.toThrow(TypeError);
  // Seeded before anyone owns it (a checkpoint of the user's own): processing starts after it.
  await client.setPosition(seeded, seededIds[1]!);
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, stream);
  await addStream(redis.admin, service, seeded);
  await waitFor(() => seen.count === 8);
  expect(seen.numbers(seeded)).toEqual([2, 3]);

  // The owner rewinds: entries after the new position come again.
  await client.setPosition(stream, ids[2]!);
  expect(await client.getPosition(stream)).toBe(ids[2]);
  await waitFor(() => seen.of(stream).length === 9);
  expect(seen.numbers(stream)).toEqual([...upTo(6), 3, 4, 5]);
  await waitFor(async () => (await client.getPosition(stream)) === ids[5]);

  // Another consumer may not move it while this one owns it.
  const other = await redis.fleet.consumer({ serviceName: service });
  await expect(other.client.setPosition(stream, ids[0]!)).rejects.toBeInstanceOf(NotOwnerError);
  expect(await other.client.getPosition(stream)).toBe(ids[5]);
});

it('starts from the first entry, and reports it, when the stream ends before its stored position', async () => {
  const service = serviceName();
  const stream = `recreated-${service}`;
  await append(redis.admin, stream, 3);
  await redis.admin.hSet(keysFor(service).positions, stream, '99999999999999-0');
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 3);
  expect(seen.numbers(stream)).toEqual(upTo(3));
  const report = log.errors.find((error) => error instanceof StreamProcessingError);
  expect(report?.message).toMatch(/before its stored position/);
});

it('deletes the position with doneStream: a stream added again later starts afresh', async () => {
  const service = serviceName();
  const stream = `again-${service}`;
  await append(redis.admin, stream, 2);
  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service });
  client.run({ eachEntry: seen.record, commitIntervalMs: 10 });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 2);
  await waitFor(async () => (await client.getPosition(stream)) === seen.entries[1]!.id);
  await client.doneStream(stream);
  expect(await client.getPosition(stream)).toBeUndefined();
  expect(await redis.admin.hGet(keysFor(service).positionTokens, stream)).toBeFalsy();
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 4);
  expect(seen.numbers(stream)).toEqual([0, 1, 0, 1]);
});
