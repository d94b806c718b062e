/**
 * The dead-letter stream keeps a bounded copy of what it receives: each field name and value at most maxEntryBytes
 * bytes, with field `truncated` giving the original size of each value that was cut. Checked on every script that
 * dead-letters an entry.
 */
import { expect, it } from 'vitest';
import { keysFor } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const MAX_ENTRY_BYTES = 64 * 1024;
const MIB = 1024 * 1024;

/** An lbs-input of exactly 1 MiB (a stream name and a large Info), and fields beside it. */
const hugeInput = (() => {
  const head = '{"DataStreamName":"huge","Info":{"pad":"';
  const tail = '"}}';
  return head + 'x'.repeat(MIB - head.length - tail.length) + tail;
})();
const note = 'n'.repeat(100_000);

/** Puts `fields` in the LBS and has them pending under `consumerId`, with no session behind it. */
async function pendingUnder(service: string, consumerId: string, fields: Record<string, string>): Promise<string> {
  const keys = keysFor(service);
  await redis.admin.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
  const id = await redis.admin.xAdd(keys.lbs, '*', fields);
  await redis.admin.sendCommand(['XREADGROUP', 'GROUP', keys.group, consumerId, 'COUNT', '10', 'STREAMS', keys.lbs, '>']);
  return id;
}

/** `kept` is the first maxEntryBytes bytes of `original` (compared without printing megabytes on failure). */
function expectCut(kept: string | undefined, original: string): void {
  expect(kept?.length).toBe(MAX_ENTRY_BYTES);
  expect(kept === original.slice(0, MAX_ENTRY_BYTES)).toBe(true);
}

const tooLarge = { 'lbs-input': hugeInput, note, origin: 'test' };
const options = (service: string) => ({ serviceName: service, maxEntryBytes: MAX_ENTRY_BYTES, heartbeatMs: 1000 });

/** The ways an entry reaches a script that dead-letters it; each returns the entry's id. */
const paths: Array<[string, (service: string) => Promise<string>]> = [
  [
    'taken from the LBS (take.lua)',
    async (service) => {
      await redis.fleet.consumer(options(service));
      return redis.admin.xAdd(keysFor(service).lbs, '*', tooLarge);
    },
  ],
  [
    'taken back by a restart under the same consumerId (recover.lua)',
    async (service) => {
      const id = await pendingUnder(service, 'worker-1', tooLarge);
      await redis.fleet.consumer({ ...options(service), consumerId: 'worker-1' });
      return id;
    },
  ],
  [
    'claimed from a dead consumer (claim.lua, autoClaim)',
    async (service) => {
      const id = await pendingUnder(service, 'dead-1', tooLarge);
      await redis.fleet.consumer({ ...options(service), autoClaim: true });
      return id;
    },
  ],
  [
    'read from a dead consumer (orphans.lua, manual mode)',
    async (service) => {
      const id = await pendingUnder(service, 'dead-1', tooLarge);
      await redis.fleet.consumer(options(service));
      return id;
    },
  ],
];

it.each(paths)('keeps at most maxEntryBytes of each field of a 1 MiB entry, saying how large each was: %s', async (_path, deliver) => {
  const service = serviceName();
  const keys = keysFor(service);
  const id = await deliver(service);

  const [dead] = await waitFor(async () => {
    const entries = await redis.admin.xRange(keys.deadLetter, '-', '+');
    return entries.length > 0 && entries;
  });
  const copy = dead!.message;
  expect(copy.reason).toBe(`lbs-input is ${MIB} bytes, more than maxEntryBytes (${MAX_ENTRY_BYTES})`);
  expect(copy['lbs-id']).toBe(id);
  expectCut(copy['lbs-input'], hugeInput);
  expectCut(copy.note, note);
  expect(copy.origin).toBe('test');
  expect(JSON.parse(copy.truncated ?? 'null')).toEqual({ 'lbs-input': MIB, note: note.length });
  // Fields as Redis stores them, in order: the copy is bounded, not the entry as written.
  const stored = (await redis.admin.sendCommand(['XRANGE', keys.deadLetter, '-', '+'])) as Array<[string, string[]]>;
  const fields = stored[0]![1];
  expect(fields.filter((_, i) => i % 2 === 0)).toEqual(['reason', 'lbs-id', 'truncated', 'lbs-input', 'note', 'origin']);
  expect(Math.max(...fields.map((value) => Buffer.byteLength(value)))).toBe(MAX_ENTRY_BYTES);
  expect(await redis.admin.xLen(keys.lbs)).toBe(0);
});

it('cuts the fields of an entry dead-lettered as a poison stream too', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const blob = 'b'.repeat(MIB);
  const input = '{"DataStreamName":"poison"}';
  const id = await pendingUnder(service, 'dead-1', { 'lbs-input': input, blob });
  // Delivered maxDeliveries times already: the next claim dead-letters it instead of granting it.
  await redis.admin.sendCommand(['XCLAIM', keys.lbs, keys.group, 'dead-1', '0', id, 'RETRYCOUNT', '10', 'JUSTID']);
  await redis.fleet.consumer({ ...options(service), autoClaim: true, maxDeliveries: 10 });

  const [dead] = await waitFor(async () => {
    const entries = await redis.admin.xRange(keys.deadLetter, '-', '+');
    return entries.length > 0 && entries;
  });
  expect(dead!.message.reason).toMatch(/died 10 times/);
  expect(dead!.message['lbs-input']).toBe(input);
  expectCut(dead!.message.blob, blob);
  expect(JSON.parse(dead!.message.truncated ?? 'null')).toEqual({ blob: MIB });
});

it('keeps an entry that fits as it was, with no truncated field', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  await redis.fleet.consumer(options(service));
  await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': 'not json', other: 'o'.repeat(MAX_ENTRY_BYTES) });
  const [dead] = await waitFor(async () => {
    const entries = await redis.admin.xRange(keys.deadLetter, '-', '+');
    return entries.length > 0 && entries;
  });
  expect(Object.keys(dead!.message)).toEqual(['reason', 'lbs-id', 'lbs-input', 'other']);
  expect(dead!.message.other).toHaveLength(MAX_ENTRY_BYTES);
});
