/**
 * The operator's look at a stream's position and its repair from outside the fleet: allowed only while nobody
 * owns the stream, and then the next owner goes on after it.
 */
import { expect, it } from 'vitest';
import { getPosition, setPosition } from '../../../lib/admin/positions.js';
import { addStream, keysFor } from '../../../lib/index.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append } from '../../support/processing.js';
import { serviceRedisOn } from '../../support/service-redis.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();

it("gives a stream's position, the token fencing it and its owner", async () => {
  const service = serviceName();
  const stream = `owned-${service}`;
  const admin = serviceRedisOn(redis.admin, service);
  expect(await getPosition(admin, stream)).toEqual({ stream, position: undefined, token: undefined, owner: undefined });

  const ids = await append(redis.admin, stream, 3);
  const seen = new Seen();
  const { client, log } = await redis.fleet.consumer({ serviceName: service, consumerId: 'worker-1', heartbeatMs: 1000 });
  client.run({ eachEntry: seen.record, commitIntervalMs: 20 });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  await waitFor(async () => (await getPosition(admin, stream)).position === ids[2]);
  expect(await getPosition(admin, stream)).toEqual({
    stream,
    position: ids[2],
    token: lease.token,
    owner: { consumerId: 'worker-1', lbsId: lease.lbsId, live: true },
  });
});

it('refuses to set the position of an owned stream, naming its owner, and leaves the position', async () => {
  const service = serviceName();
  const stream = `owned-${service}`;
  const admin = serviceRedisOn(redis.admin, service);
  const ids = await append(redis.admin, stream, 2);
  const { client, log } = await redis.fleet.consumer({ serviceName: service, consumerId: 'worker-1', heartbeatMs: 1000 });
  client.run({ eachEntry: () => undefined, commitIntervalMs: 20 });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  await waitFor(async () => (await getPosition(admin, stream)).position === ids[1]);

  expect(await setPosition(admin, stream, ids[0]!)).toEqual({ stream, outcome: 'owned', owner: { consumerId: 'worker-1', lbsId: lease.lbsId, live: true } });
  expect((await getPosition(admin, stream)).position).toBe(ids[1]);
});

it('refuses while a dead consumer still holds the stream, saying its session is gone', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const admin = serviceRedisOn(redis.admin, service);
  // What a consumer that died leaves until a survivor claims its streams: its entry pending, no session.
  await redis.admin.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
  const lbsId = await addStream(redis.admin, service, 'orphan');
  await redis.admin.sendCommand(['XREADGROUP', 'GROUP', keys.group, 'dead-1', 'COUNT', '1', 'STREAMS', keys.lbs, '>']);
  await redis.admin.hSet(keys.owners, 'orphan', lbsId);

  expect(await setPosition(admin, 'orphan', '1-0')).toEqual({ stream: 'orphan', outcome: 'owned', owner: { consumerId: 'dead-1', lbsId, live: false } });
  expect(await redis.admin.hGet(keys.positions, 'orphan')).toBeNull();
});

it('sets the position of a stream nobody owns: its first owner goes on after it', async () => {
  const service = serviceName();
  const stream = `seeded-${service}`;
  const admin = serviceRedisOn(redis.admin, service);
  const ids = await append(redis.admin, stream, 5);
  expect(await setPosition(admin, stream, ids[2]!)).toEqual({ stream, outcome: 'set', position: ids[2] });
  expect(await getPosition(admin, stream)).toEqual({ stream, position: ids[2], token: undefined, owner: undefined });

  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 2);
  expect(seen.numbers(stream)).toEqual([3, 4]);
});

it('refuses an id that is not a stream id and an empty stream name, setting nothing', async () => {
  const service = serviceName();
  const admin = serviceRedisOn(redis.admin, service);
  await expect(setPosition(admin, 's', '1700000000000')).rejects.toThrow('Expected `id` to be a stream id such as "1700000000000-0", got "1700000000000"');
  await expect(setPosition(admin, '', '1-0')).rejects.toThrow('Expected `stream` to be a non-empty string, got ""');
  await expect(getPosition(admin, '')).rejects.toThrow(TypeError);
  expect(await redis.admin.exists(keysFor(service).positions)).toBe(0);
});
