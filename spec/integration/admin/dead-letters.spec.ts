/**
 * The operator's dead-letter operations on dead letters the library wrote itself: an LBS entry a running consumer
 * could not hand out, and a data entry whose handler kept failing under run(). Requeued records are processed
 * again by the fleet, once, whatever the races between operators or a crash part-way.
 */
import calculateSlot from 'cluster-key-slot';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUEUE_MARKER_SECONDS, dropDeadLetters, listDeadLetters, requeueDeadLetters, requeueMarkerKey, showDeadLetters, type RequeueOutcome } from '../../../lib/admin/dead-letters.js';
import { sameSlotTag } from '../../../lib/admin/hash-tag.js';
import type { ServiceRedis } from '../../../lib/admin/service-redis.js';
import { addStream, keysFor } from '../../../lib/index.js';
import { appendRequeuedEntry } from '../../../lib/scripts/append-requeued-entry.js';
import { ScriptRunner } from '../../../lib/scripts/runner.js';
import { deadLetterIds, entryDeadLetter, processingConsumer } from '../../support/dead-letters.js';
import { Fleet, serviceName } from '../../support/fleet.js';
import { append } from '../../support/processing.js';
import { startCluster, type RedisCluster } from '../../support/redis-cluster.js';
import { serviceRedisOn, serviceRedisOnCluster } from '../../support/service-redis.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

function requeuedIds(outcomes: RequeueOutcome[]): string[] {
  return outcomes.flatMap((outcome) => (outcome.outcome === 'requeued' ? [outcome.newId] : []));
}

describe('list and show', () => {
  it('decode the LBS entries a consumer could not hand out, newest first, a page at a time', async () => {
    const service = serviceName();
    const keys = keysFor(service);
    const admin = serviceRedisOn(redis.admin, service);
    await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
    const missing = await redis.admin.xAdd(keys.lbs, '*', { origin: 'by hand' });
    await deadLetterIds(redis.admin, keys.deadLetter, 1);
    const notJson = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': '{"DataStreamName":' });
    const named = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': '{"DataStreamName":"order-1","Info":[1]}' });
    const [first, second, third] = await deadLetterIds(redis.admin, keys.deadLetter, 3);

    const page = await listDeadLetters(admin, 'lbs', { count: 2 });
    expect(page.deadLetters).toEqual([
      { kind: 'lbs', id: third, reason: 'Info is not a JSON object', lbsId: named, truncated: {}, fields: [['lbs-input', '{"DataStreamName":"order-1","Info":[1]}']], stream: 'order-1' },
      { kind: 'lbs', id: second, reason: expect.stringMatching(/^lbs-input is not valid JSON/), lbsId: notJson, truncated: {}, fields: [['lbs-input', '{"DataStreamName":']], stream: undefined },
    ]);
    expect(page.next).toBe(first);
    const last = await listDeadLetters(admin, 'lbs', { from: page.next, count: 2 });
    expect(last.deadLetters).toEqual([
      { kind: 'lbs', id: first, reason: 'missing field lbs-input', lbsId: missing, truncated: {}, fields: [['origin', 'by hand']], stream: undefined },
    ]);
    expect(last.next).toBeUndefined();
    expect(await listDeadLetters(admin, 'entries', { count: 10 })).toEqual({ deadLetters: [], next: undefined });

    const shown = await showDeadLetters(admin, 'lbs', [second!, '1-1']);
    expect(shown).toEqual([
      { id: second, outcome: 'found', deadLetter: page.deadLetters[1] },
      { id: '1-1', outcome: 'not-found' },
    ]);
  });

  it('decode the entries a handler failed on, and show a record written by hand as malformed, with its fields', async () => {
    const service = serviceName();
    const stream = `failing-${service}`;
    const admin = serviceRedisOn(redis.admin, service);
    const { ids, recordId } = await entryDeadLetter(redis, service, stream);
    const forged = await redis.admin.xAdd(keysFor(service).entryDeadLetter, '*', { stream, note: 'replay me' });

    const { deadLetters } = await listDeadLetters(admin, 'entries', { count: 10 });
    expect(deadLetters).toEqual([
      { kind: 'malformed', id: forged, problem: 'it has no field `id`', raw: [['stream', stream], ['note', 'replay me']] },
      { kind: 'entries', id: recordId, stream, entryId: ids[1], attempts: 1, error: 'cannot handle n=1', fields: { n: '1' } },
    ]);
    expect(await showDeadLetters(admin, 'entries', [forged])).toEqual([{ id: forged, outcome: 'found', deadLetter: deadLetters[0] }]);
  });

  it('refuse ids that are not stream ids, a count out of bounds and an unknown kind, before reading anything', async () => {
    const admin = serviceRedisOn(redis.admin, serviceName());
    await expect(showDeadLetters(admin, 'lbs', ['1-0', 'latest'])).rejects.toThrow('Expected `ids` to hold stream ids such as "1700000000000-0", got "latest"');
    await expect(listDeadLetters(admin, 'lbs', { count: 0 })).rejects.toThrow(/`count` to be an integer from 1 to 10000, got 0/);
    await expect(listDeadLetters(admin, 'lbs', { from: '+', count: 1 })).rejects.toThrow(/`from` to be a stream id/);
    await expect(dropDeadLetters(admin, 'lbz' as 'lbs', [])).rejects.toThrow('Expected `kind` to be "lbs" or "entries", got "lbz"');
  });
});

describe('requeue of an LBS dead letter', () => {
  it('puts the entry back on the LBS, where a consumer takes the stream and processes it', async () => {
    const service = serviceName();
    const stream = `wrong-type-${service}`;
    const keys = keysFor(service);
    const admin = serviceRedisOn(redis.admin, service);
    await redis.admin.set(stream, 'not a stream');
    const { client, seen } = await processingConsumer(redis.fleet, service, new Set());
    const lbsId = await addStream(redis.admin, service, stream, { region: 'eu' });
    const [recordId] = await deadLetterIds(redis.admin, keys.deadLetter, 1);
    expect((await showDeadLetters(admin, 'lbs', [recordId!]))[0]).toMatchObject({ deadLetter: { reason: `key "${stream}" holds another type than a stream`, lbsId, stream } });

    // The cause fixed: the key is a stream now.
    await redis.admin.del(stream);
    await append(redis.admin, stream, 2);
    const [outcome] = await requeueDeadLetters(admin, 'lbs', [recordId!]);
    expect(outcome).toEqual({ id: recordId, outcome: 'requeued', stream: keys.lbs, newId: expect.any(String) });
    await waitFor(() => seen.numbers(stream).length === 2);
    expect(seen.numbers(stream)).toEqual([0, 1]);
    expect(client.owned().find((lease) => lease.stream === stream)).toMatchObject({ lbsId: (outcome as { newId: string }).newId, info: { region: 'eu' } });
    expect(await redis.admin.xLen(keys.deadLetter)).toBe(0);
  });

  it('adds one entry when two operators requeue the same records at once', async () => {
    const service = serviceName();
    const keys = keysFor(service);
    await redis.admin.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '$', 'MKSTREAM']);
    // Records as the library writes them, for streams that were dead-lettered before.
    const recordIds = [];
    for (const name of ['a', 'b', 'c']) {
      recordIds.push(await redis.admin.xAdd(keys.deadLetter, '*', { reason: 'key holds another type', 'lbs-id': '1-0', 'lbs-input': JSON.stringify({ DataStreamName: name }) }));
    }
    const [one, other] = [serviceRedisOn(await redis.fleet.connect({ inspecting: true }), service), serviceRedisOn(await redis.fleet.connect({ inspecting: true }), service)];
    const outcomes = await Promise.all([requeueDeadLetters(one, 'lbs', recordIds), requeueDeadLetters(other, 'lbs', recordIds)]);

    for (const [i, id] of recordIds.entries()) {
      const pair = outcomes.map((list) => list[i]!.outcome).sort();
      expect(pair, id).toEqual(['not-found', 'requeued']);
    }
    const lbs = await redis.admin.xRange(keys.lbs, '-', '+');
    expect(lbs.map((entry) => JSON.parse(entry.message['lbs-input']!).DataStreamName)).toEqual(['a', 'b', 'c']);
    expect(lbs.map((entry) => entry.id).sort()).toEqual(outcomes.flatMap(requeuedIds).sort());
    expect(await redis.admin.xLen(keys.deadLetter)).toBe(0);
  });

  it('refuses a record whose values were cut, and one with no field of the entry, leaving them; reports ids not there', async () => {
    const service = serviceName();
    const keys = keysFor(service);
    const admin = serviceRedisOn(redis.admin, service);
    await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000, maxEntryBytes: 1024 });
    await addStream(redis.admin, service, 'large', { pad: 'x'.repeat(2000) });
    const [cut] = await deadLetterIds(redis.admin, keys.deadLetter, 1);
    const bare = await redis.admin.xAdd(keys.deadLetter, '*', { reason: 'r', 'lbs-id': '1-0' });
    const forged = await redis.admin.xAdd(keys.deadLetter, '*', { 'lbs-input': '{"DataStreamName":"x"}' });

    const outcomes = await requeueDeadLetters(admin, 'lbs', [cut!, bare, forged, '1-1']);
    expect(outcomes).toEqual([
      { id: cut, outcome: 'refused', reason: expect.stringMatching(/^its values were cut to maxEntryBytes \(lbs-input: 2\d\d\d bytes\): the original entry is lost/) },
      { id: bare, outcome: 'refused', reason: 'the record kept no field of the entry' },
      { id: forged, outcome: 'refused', reason: "the record is not in the library's format (its first field is not `reason`)" },
      { id: '1-1', outcome: 'not-found' },
    ]);
    expect(await redis.admin.xLen(keys.deadLetter)).toBe(3);
    expect(await redis.admin.xLen(keys.lbs)).toBe(0);
  });
});

describe('requeue of an entry dead letter', () => {
  it("appends the entry to its stream again, where the running owner processes it, after the stream's other entries", async () => {
    const service = serviceName();
    const stream = `failing-${service}`;
    const admin = serviceRedisOn(redis.admin, service);
    const { seen, recordId } = await entryDeadLetter(redis, service, stream);
    const [later] = await append(redis.admin, stream, 1, 3);
    await waitFor(() => seen.count === 3);

    const [outcome] = await requeueDeadLetters(admin, 'entries', [recordId]);
    expect(outcome).toEqual({ id: recordId, outcome: 'requeued', stream, newId: expect.any(String) });
    await waitFor(() => seen.count === 4);
    expect(seen.numbers(stream)).toEqual([0, 2, 3, 1]);
    expect(seen.of(stream)[3]!.id).toBe((outcome as { newId: string }).newId);
    expect(seen.of(stream)[3]!.id > later!).toBe(true);
    expect(await redis.admin.xLen(keysFor(service).entryDeadLetter)).toBe(0);
  });

  it('appends once when two operators requeue the same record at once', async () => {
    const service = serviceName();
    const stream = `failing-${service}`;
    const { seen, recordId } = await entryDeadLetter(redis, service, stream);
    const [one, other] = [serviceRedisOn(await redis.fleet.connect({ inspecting: true }), service), serviceRedisOn(await redis.fleet.connect({ inspecting: true }), service)];

    const outcomes = (await Promise.all([requeueDeadLetters(one, 'entries', [recordId]), requeueDeadLetters(other, 'entries', [recordId])])).flat();
    const newIds = new Set(requeuedIds(outcomes));
    expect(newIds.size).toBe(1);
    expect(await redis.admin.xLen(stream)).toBe(4);
    await waitFor(() => seen.count === 3);
    expect(seen.numbers(stream)).toEqual([0, 2, 1]);
    expect(await redis.admin.xLen(keysFor(service).entryDeadLetter)).toBe(0);
  });

  it('finishes a requeue interrupted after the append without appending again', async () => {
    const service = serviceName();
    const stream = `failing-${service}`;
    const admin = serviceRedisOn(redis.admin, service);
    const { seen, recordId } = await entryDeadLetter(redis, service, stream);
    // The first step alone, as a process that died before deleting the record leaves it.
    const marker = requeueMarkerKey(service, sameSlotTag(stream)!, recordId);
    const first = await appendRequeuedEntry(new ScriptRunner(admin.at(stream)), { marker, stream, fields: [['n', '1']] });
    expect(first.outcome).toBe('appended');
    await waitFor(() => seen.count === 3);
    // However late the rerun: the marker does not expire while the record is there.
    expect(await redis.admin.ttl(marker)).toBe(-1);

    expect(await requeueDeadLetters(admin, 'entries', [recordId])).toEqual([{ id: recordId, outcome: 'requeued', stream, newId: (first as { id: string }).id }]);
    expect(await redis.admin.xLen(stream)).toBe(4);
    expect(await redis.admin.xLen(keysFor(service).entryDeadLetter)).toBe(0);
    // Now kept a day: an operator who read the record before it was deleted still finds it.
    expect(await redis.admin.get(marker)).toBe((first as { id: string }).id);
    expect(await redis.admin.ttl(marker)).toBeGreaterThan(REQUEUE_MARKER_SECONDS - 60);
    expect(await redis.admin.ttl(marker)).toBeLessThanOrEqual(REQUEUE_MARKER_SECONDS);
    expect(await requeueDeadLetters(admin, 'entries', [recordId])).toEqual([{ id: recordId, outcome: 'not-found' }]);
    expect(seen.numbers(stream)).toEqual([0, 2, 1]);
  });

  it('refuses a record whose stream was finished, deleted or is no stream, and a malformed one, appending nothing', async () => {
    const service = serviceName();
    const stream = `failing-${service}`;
    const keys = keysFor(service);
    const admin = serviceRedisOn(redis.admin, service);
    const { client, recordId } = await entryDeadLetter(redis, service, stream);
    const forged = await redis.admin.xAdd(keys.entryDeadLetter, '*', { stream, id: '1-0', attempts: 'many', error: 'e', fields: '{"n":"9"}' });
    await client.doneStream(stream);
    // Streams still in the LBS of a service with no consumer yet, one deleted, one of another type.
    const waiting = serviceName();
    const waitingKeys = keysFor(waiting);
    const record = (name: string) => redis.admin.xAdd(waitingKeys.entryDeadLetter, '*', { stream: name, id: '1-0', attempts: '3', error: 'e', fields: '{"n":"9"}' });
    await addStream(redis.admin, waiting, `gone-${service}`);
    await addStream(redis.admin, waiting, `string-${service}`);
    await redis.admin.set(`string-${service}`, 'x');
    const gone = await record(`gone-${service}`);
    const wrongType = await record(`string-${service}`);

    expect(await requeueDeadLetters(admin, 'entries', [recordId, forged])).toEqual([
      { id: recordId, outcome: 'refused', reason: expect.stringMatching(new RegExp(`^stream "${stream}" is no longer in the service \\(finished, or its LBS entry dead-lettered\\)`)) },
      { id: forged, outcome: 'refused', reason: `the record is not in the library's format (its attempts "many" is not a positive integer)` },
    ]);
    expect(await requeueDeadLetters(serviceRedisOn(redis.admin, waiting), 'entries', [gone, wrongType])).toEqual([
      { id: gone, outcome: 'refused', reason: `key "gone-${service}" no longer exists` },
      { id: wrongType, outcome: 'refused', reason: `key "string-${service}" holds a string, not a stream` },
    ]);
    expect(await redis.admin.xLen(stream)).toBe(3);
    expect(await redis.admin.exists(`gone-${service}`)).toBe(0);
    expect(await redis.admin.xLen(keys.entryDeadLetter)).toBe(2);
    expect(await redis.admin.xLen(waitingKeys.entryDeadLetter)).toBe(2);
  });
});

it('drops records, reporting ids not there', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const admin = serviceRedisOn(redis.admin, service);
  const kept = await redis.admin.xAdd(keys.entryDeadLetter, '*', { note: 'kept' });
  const dropped = await redis.admin.xAdd(keys.entryDeadLetter, '*', { note: 'dropped' });
  expect(await dropDeadLetters(admin, 'entries', [dropped, '1-1'])).toEqual([
    { id: dropped, outcome: 'dropped' },
    { id: '1-1', outcome: 'not-found' },
  ]);
  expect((await redis.admin.xRange(keys.entryDeadLetter, '-', '+')).map((entry) => entry.id)).toEqual([kept]);
  expect(await dropDeadLetters(admin, 'lbs', [kept])).toEqual([{ id: kept, outcome: 'not-found' }]);
});

describe('on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let fleet: Fleet;
  beforeAll(async () => {
    cluster = await startCluster();
    fleet = new Fleet(cluster.nodes[0]!.url);
  });
  afterAll(async () => {
    await fleet?.close();
    await cluster?.stop();
  });

  it("requeues an entry dead letter into a stream on another master than the service's keys, once, across a crash", async () => {
    const service = serviceName();
    const keys = keysFor(service);
    const client = await cluster.connect();
    const admin: ServiceRedis = serviceRedisOnCluster(client, service);
    const serviceMaster = await cluster.masterOf(calculateSlot(keys.lbs));
    let stream = '';
    for (let i = 0; !stream; i += 1) {
      const candidate = `remote-${service}-${i}`;
      if ((await cluster.masterOf(calculateSlot(candidate))) !== serviceMaster) stream = candidate;
    }
    const failing = new Set(['1']);
    const { seen } = await processingConsumer(fleet, service, failing, await cluster.connect());
    for (let n = 0; n < 3; n += 1) await client.xAdd(stream, '*', { n: String(n) });
    await addStream(client, service, stream);
    await waitFor(() => seen.count === 2);
    const [record] = await waitFor(async () => {
      const records = await client.xRange(keys.entryDeadLetter, '-', '+');
      return records.length === 1 && records;
    });
    failing.clear();

    // Interrupted after the append, then run again: one entry appended, processed by the owner; the record gone.
    const marker = requeueMarkerKey(service, sameSlotTag(stream)!, record!.id);
    expect(calculateSlot(marker)).toBe(calculateSlot(stream));
    const first = await appendRequeuedEntry(new ScriptRunner(admin.at(stream)), { marker, stream, fields: [['n', '1']] });
    const outcomes = await requeueDeadLetters(admin, 'entries', [record!.id]);
    expect(outcomes).toEqual([{ id: record!.id, outcome: 'requeued', stream, newId: (first as { id: string }).id }]);
    await waitFor(() => seen.count === 3);
    expect(seen.numbers(stream)).toEqual([0, 2, 1]);
    expect(await client.xLen(stream)).toBe(4);
    expect(await client.xLen(keys.entryDeadLetter)).toBe(0);
  });
});
