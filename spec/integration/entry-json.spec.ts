/**
 * What counts as a well formed LBS entry is decided once, in Lua (entry.lua), and must agree with JSON.parse, which
 * decodes the Info of every granted entry. Redis's JSON decoder (lua-cjson) accepts text JSON.parse refuses: such an
 * entry must go to the dead-letter stream, not be granted and then break the batch it came in.
 */
import { describe, expect, it } from 'vitest';
import { DeadLetterError, addStream, keysFor } from '../../lib/index.js';
import { serviceName } from '../support/fleet.js';
import { useRedisServer } from '../support/use-redis-server.js';
import { waitFor } from '../support/wait.js';

const redis = useRedisServer();

const entry = (value: string): string => `{"DataStreamName":"bad","Info":{"k":${value}}}`;

/** lbs-input values Redis's decoder accepts and JSON.parse refuses (checked below), with the reason expected. */
const lenient: Array<[string, string, string]> = [
  ['a raw TAB in a string', entry('"a\tb"'), 'raw control character 0x09 in a string'],
  ['a raw newline in a string', entry('"a\nb"'), 'raw control character 0x0a in a string'],
  ['a raw 0x01 byte in a string', entry('"a\u0001b"'), 'raw control character 0x01 in a string'],
  ['a raw TAB in DataStreamName', '{"DataStreamName":"a\tb"}', 'raw control character 0x09 in a string'],
  ['NaN', entry('NaN'), 'non-standard number NaN'],
  ['nan', entry('nan'), 'non-standard number nan'],
  ['Infinity', entry('Infinity'), 'non-standard number Infinity'],
  ['-Infinity', entry('-Infinity'), 'non-standard number -Infinity'],
  ['inf', entry('inf'), 'non-standard number inf'],
  ['0x10', entry('0x10'), 'non-standard number 0x10'],
  ['-0x10', entry('-0x10'), 'non-standard number -0x10'],
  ['+1', entry('+1'), 'non-standard number +1'],
  ['007', entry('007'), 'non-standard number 007'],
  ['1.', entry('1.'), 'non-standard number 1.'],
  ['-.5', entry('-.5'), 'non-standard number -.5'],
  ['1.e5', entry('1.e5'), 'non-standard number 1.e5'],
  ['a NUL byte after the object', '{"DataStreamName":"bad"}\u0000trailing', 'NUL byte'],
];

it.each(lenient)('the forms tested are ones JSON.parse refuses (%s)', (_label, raw) => {
  expect(() => JSON.parse(raw)).toThrow(SyntaxError);
});

/** Ids of the entries pending in the LBS, under any consumer. */
async function pendingIds(service: string): Promise<string[]> {
  const keys = keysFor(service);
  const reply = (await redis.admin.sendCommand(['XPENDING', keys.lbs, keys.group, '-', '+', '1000'])) as Array<[string, ...unknown[]]>;
  return reply.map(([id]) => id).sort();
}

/** Adds `raw` between good entries and delivers all of them to `consumerId`, as a blocking read (or a take whose
 * reply was never handled) does before the consumer dies: they are pending under it, with no session behind it. */
async function pendingUnder(service: string, consumerId: string, raw: string, goodBefore: number, goodAfter: number) {
  const keys = keysFor(service);
  await redis.admin.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
  const good: string[] = [];
  for (let i = 0; i < goodBefore; i++) good.push(`good-${good.length}`);
  for (const name of good) await addStream(redis.admin, service, name);
  const badId = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': raw });
  for (let i = 0; i < goodAfter; i++) {
    const name = `good-${good.length}`;
    good.push(name);
    await addStream(redis.admin, service, name);
  }
  await redis.admin.sendCommand(['XREADGROUP', 'GROUP', keys.group, consumerId, 'COUNT', '100', 'STREAMS', keys.lbs, '>']);
  return { badId, good };
}

/** The dead-letter stream holds exactly the bad entry, with its reason and its lbs-input as written. */
async function expectDeadLettered(service: string, badId: string, raw: string, reason: string): Promise<void> {
  const dead = await redis.admin.xRange(keysFor(service).deadLetter, '-', '+');
  expect(dead).toHaveLength(1);
  expect(dead[0]!.message['lbs-id']).toBe(badId);
  expect(dead[0]!.message.reason).toContain('lbs-input is not valid JSON');
  expect(dead[0]!.message.reason).toContain(reason);
  expect(dead[0]!.message['lbs-input']).toBe(raw);
}

it('grants entries in every form JSON.parse reads, with their Info as JSON.parse reads it', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const info = (body: string): string => `{"DataStreamName":"s-${body.length}-${Math.random()}","Info":${body}}`;
  const valid = [
    info('{"numbers":[0,-0,7,-12,10,100,0.5,-0.25,1e5,1E+2,2e-3,-1.25E-3,0e0,1e007,123456789012]}'),
    info('{"literals":[true,false,null],"empty":[[],{}],"nested":{"a":{"b":[{"c":[1,[2,[3]]]}]}}}'),
    info('{"escapes":"\\"quoted\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\u0000 \\ud83d\\ude00","k\\"ey":"v"}'),
    info('{"text":"tab\\tand newline\\n escaped, DEL \u007f raw, é, 😀, \u2028"}'),
    info('{"digits in strings":"007 +1 NaN 0x10 Infinity 1. -.5","colons":"a:b,c[d]{e}"}'),
    ` \t\r\n{ "DataStreamName" : "pretty-${Math.random()}" ,\n\t"Info" : {\r\n  "n" : -1.5e+3 , "z" : [ 0 , -0 ]\n} } \n`,
  ];
  for (const raw of valid) await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': raw });
  const { log } = await redis.fleet.consumer({ serviceName: service });
  await waitFor(() => log.added.length === valid.length, { message: 'every entry granted' });
  expect(log.errors).toEqual([]);
  for (const raw of valid) {
    const { DataStreamName: stream, Info: expected } = JSON.parse(raw) as { DataStreamName: string; Info: unknown };
    expect(log.added.find((lease) => lease.stream === stream)?.info).toEqual(expected);
  }
  expect(await redis.admin.xLen(keys.deadLetter)).toBe(0);
});

describe('an entry Redis decodes but JSON.parse refuses', () => {
  it.each(lenient)('is dead-lettered, and the good entries of its batch are granted (%s)', async (_label, raw, reason) => {
    const service = serviceName();
    const keys = keysFor(service);
    const badId = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': raw });
    for (let i = 0; i < 3; i++) await addStream(redis.admin, service, `good-${i}`);

    const { client, log } = await redis.fleet.consumer({ serviceName: service });
    await waitFor(() => log.added.length === 3 && log.errors.length >= 1, { message: 'three grants and a dead-lettering' });
    expect(log.added.map((lease) => lease.stream).sort()).toEqual(['good-0', 'good-1', 'good-2']);
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]).toBeInstanceOf(DeadLetterError);
    expect(log.errors[0]).toMatchObject({ lbsId: badId });
    expect((log.errors[0] as DeadLetterError).reason).toContain(reason);
    await expectDeadLettered(service, badId, raw, reason);
    // Every pending entry is a lease here, and every lease a pending entry.
    expect(await pendingIds(service)).toEqual(client.owned().map((lease) => lease.lbsId).sort());
  });

  it('pending under a consumer id does not stop a restart with that id', async () => {
    const service = serviceName();
    const raw = entry('NaN');
    const { badId, good } = await pendingUnder(service, 'worker-1', raw, 1, 2);

    const { client, log } = await redis.fleet.consumer({ serviceName: service, consumerId: 'worker-1' });
    await waitFor(() => log.added.length === good.length && log.errors.length >= 1);
    expect(log.added.map((lease) => lease.stream).sort()).toEqual(good);
    expect(log.added.every((lease) => lease.recovered)).toBe(true);
    expect(log.errors.map((error) => error.constructor)).toEqual([DeadLetterError]);
    await expectDeadLettered(service, badId, raw, 'non-standard number NaN');
    expect(await pendingIds(service)).toEqual(client.owned().map((lease) => lease.lbsId).sort());
  });

  it('held by a dead consumer does not stop an autoClaim survivor from announcing every good stream', async () => {
    const service = serviceName();
    const raw = entry('"a\tb"');
    const { badId, good } = await pendingUnder(service, 'dead-1', raw, 1, 2);

    // The survivor's init() finds dead-1 holding entries with no session and takes them over.
    const { client, log } = await redis.fleet.consumer({ serviceName: service, autoClaim: true });
    await waitFor(() => log.added.length === good.length && log.errors.length >= 1);
    expect(log.added.map((lease) => lease.stream).sort()).toEqual(good);
    expect(log.errors.map((error) => error.constructor)).toEqual([DeadLetterError]);
    expect(log.errors[0]).toMatchObject({ lbsId: badId });
    await expectDeadLettered(service, badId, raw, 'raw control character 0x09 in a string');
    expect(await pendingIds(service)).toEqual(client.owned().map((lease) => lease.lbsId).sort());
  });

  it('held by a dead consumer does not stop manual mode from reporting every good stream', async () => {
    const service = serviceName();
    const raw = entry('0x10');
    const { badId, good } = await pendingUnder(service, 'dead-1', raw, 1, 2);

    const { client, log } = await redis.fleet.consumer({ serviceName: service });
    await waitFor(() => log.expired.length === good.length, { message: 'every good stream reported' });
    expect(log.expired.map((expired) => expired.stream).sort()).toEqual(good);
    await expectDeadLettered(service, badId, raw, 'non-standard number 0x10');
    for (const expired of log.expired) await client.claim(expired);
    // Reported as it was dead-lettered, like in autoClaim mode.
    expect(log.errors).toEqual([expect.objectContaining({ name: 'DeadLetterError', lbsId: badId })]);
    expect(await pendingIds(service)).toEqual(client.owned().map((lease) => lease.lbsId).sort());
  });
});
