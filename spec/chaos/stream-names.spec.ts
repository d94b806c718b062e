/**
 * Security: stream names (and Info) carrying any characters the API allows, including Redis glob characters, hash
 * tags, key-like text, Lua code, JSON quotes, emoji, newlines and NUL, are added, owned, claimed and finished as
 * themselves, and never change a key name or touch another key: user data only ever reaches Redis as a command
 * or script argument, never as Lua source. A name in the library's own key space (rsc:) is refused. An entry larger
 * than maxEntryBytes is dead-lettered, not parsed.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { DeadLetterError, addStream, keysFor, type ExpiredStream } from '../../lib/index.js';
import { Fleet, serviceName, type NodeRedis } from '../support/fleet.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const NAMES = [
  '{braces}',
  '{other}:owners',
  'a:b:c',
  '*',
  '?',
  '[a-z]',
  'glob*?[x]\\',
  "'); redis.call('FLUSHALL') --",
  '"]]; redis.call("FLUSHALL") --[[',
  '{"DataStreamName":"forged","Info":{}}',
  'quote" and \\backslash',
  'emoji 🎉🚀 ünïcödé',
  'line\nbreak',
  'tab\tand\r\ncrlf',
  'nul\u0000byte',
  ' ',
  '%s%d%n',
  '$(rm -rf /) `id`',
];
const INFO = { note: "'); redis.call('FLUSHALL') --", quote: '"\\', nested: { list: [1, '}'] } };

let server: RedisServer;
let fleet: Fleet;
let admin: NodeRedis;

beforeAll(async () => {
  server = await startRedis();
});
afterAll(() => server.stop());
beforeEach(async () => {
  fleet = new Fleet(server.url);
  admin = await fleet.connect({ inspecting: true });
});
afterEach(() => fleet.close());

/** Every key of the database, except the ones of `service`: those must be exactly its own. */
async function keysOutside(service: string, consumerIds: string[]): Promise<string[]> {
  const keys = keysFor(service);
  // Every key name the service has (the prefixes and the group name among them match no key).
  const own = new Set(Object.values(keys));
  const all = (await admin.keys('*')).filter((key) => !own.has(key));
  return all.filter((key) => !consumerIds.some((id) => key === keys.sessionPrefix + id)).sort();
}

it('adds, owns, claims and finishes streams with any characters, touching no other key', async () => {
  const service = serviceName();
  await admin.set('sentinel', 'still here');
  await addStream(admin, 'neighbour', 'theirs');

  const first = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  for (const name of NAMES) await first.client.addStream(name, INFO);
  await waitFor(() => first.log.added.length === NAMES.length);
  expect(first.log.added.map((lease) => lease.stream).sort()).toEqual([...NAMES].sort());
  expect(first.log.added.every((lease) => JSON.stringify(lease.info) === JSON.stringify(INFO))).toBe(true);
  expect((await admin.hKeys(keysFor(service).owners)).sort()).toEqual([...NAMES].sort());

  // close() hands them over; a manual consumer claims each by the payload it was told.
  const second = await fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  await first.client.close();
  await waitFor(() => new Set(second.log.expired.map((e) => e.stream)).size === NAMES.length, { timeoutMs: 5000 });
  const payloads = new Map(second.log.expired.map((expired: ExpiredStream) => [expired.stream, expired]));
  const claimed = [];
  for (const expired of payloads.values()) claimed.push(await second.client.claim(expired));
  expect(claimed.map((lease) => lease.stream).sort()).toEqual([...NAMES].sort());

  for (const name of NAMES) await second.client.doneStream(name);
  const keys = keysFor(service);
  expect(await admin.xLen(keys.lbs)).toBe(0);
  expect(await admin.hLen(keys.owners)).toBe(0);
  expect(await admin.exists(keys.deadLetter)).toBe(0);
  expect(second.log.errors).toEqual([]);
  // Nothing else was touched or created: no FLUSHALL ran, no key was named after a stream.
  expect(await admin.get('sentinel')).toBe('still here');
  expect(await keysOutside(service, [first.client.id(), second.client.id()])).toEqual(['rsc:{neighbour}:lbs', 'sentinel']);
  expect(await admin.xLen('rsc:{neighbour}:lbs')).toBe(1);
});

it("refuses an empty name and one in the library's own key space, and dead-letters an entry larger than maxEntryBytes without parsing it", async () => {
  const service = serviceName();
  const { client, log } = await fleet.consumer({ serviceName: service, heartbeatMs: 1000, maxEntryBytes: 1024 });
  await expect(client.addStream('')).rejects.toThrow(TypeError);
  await expect(client.addStream('rsc:{other}:owners')).rejects.toThrow(TypeError);
  await client.addStream(`huge ${'x'.repeat(2000)}`);
  await client.addStream('small name, big Info', { padding: 'y'.repeat(1100) });
  await client.addStream('fits');
  await waitFor(() => log.errors.length === 2 && log.added.length === 1, { message: 'two entries dead-lettered, one granted' });
  expect(log.added[0]!.stream).toBe('fits');
  expect(log.errors.every((error) => error instanceof DeadLetterError)).toBe(true);
  const dead = await admin.xRange(keysFor(service).deadLetter, '-', '+');
  expect(dead.map((entry) => entry.message.reason)).toEqual([
    expect.stringMatching(/more than maxEntryBytes \(1024\)/),
    expect.stringMatching(/more than maxEntryBytes \(1024\)/),
  ]);
  expect(await admin.xLen(keysFor(service).lbs)).toBe(1);
});
