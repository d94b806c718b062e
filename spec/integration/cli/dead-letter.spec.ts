import { expect, it } from 'vitest';
import type { DeadLetterJson } from '../../../lib/cli/commands/dead-letter.js';
import { addStream, keysFor } from '../../../lib/index.js';
import { runCli, useBuiltCli } from '../../support/cli.js';
import { deadLetterIds, entryDeadLetter, processingConsumer } from '../../support/dead-letters.js';
import { serviceName } from '../../support/fleet.js';
import { append } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();
const cli = useBuiltCli();

function rsc(service: string, ...args: string[]) {
  return runCli(cli.bin, ['dead-letter', '--service', service, '--url', redis.server.url, ...args]);
}

/** Three LBS entries a running consumer dead-lettered, oldest first, and a record written by hand after them. */
async function lbsDeadLetters(service: string) {
  const keys = keysFor(service);
  await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  const missing = await redis.admin.xAdd(keys.lbs, '*', { origin: 'by hand' });
  await deadLetterIds(redis.admin, keys.deadLetter, 1);
  const notJson = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': '{"DataStreamName":' });
  await deadLetterIds(redis.admin, keys.deadLetter, 2);
  const named = await redis.admin.xAdd(keys.lbs, '*', { 'lbs-input': '{"DataStreamName":"order-1","Info":[1]}' });
  await deadLetterIds(redis.admin, keys.deadLetter, 3);
  const forged = await redis.admin.xAdd(keys.deadLetter, '*', { note: 'not a dead letter' });
  const records = await deadLetterIds(redis.admin, keys.deadLetter, 4);
  return { lbsIds: { missing, notJson, named }, forged, records };
}

it('list --json: the records of the LBS dead-letter stream as Redis holds them, newest first, a page at a time', async () => {
  const service = serviceName();
  const { lbsIds, forged, records } = await lbsDeadLetters(service);
  const [first, second, third] = records;

  const result = await rsc(service, 'list', '--json', '--count', '3');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const page = JSON.parse(result.stdout) as { version: number; service: string; kind: string; key: string; deadLetters: DeadLetterJson[]; next: string | null };
  const time = (id: string) => Number(id.split('-')[0]);
  expect(page).toEqual({
    version: 1,
    service,
    kind: 'lbs',
    key: keysFor(service).deadLetter,
    deadLetters: [
      { kind: 'malformed', id: forged, time: time(forged), problem: 'its first field is not `reason`', raw: [['note', 'not a dead letter']] },
      { kind: 'lbs', id: third, time: time(third!), reason: 'Info is not a JSON object', lbsId: lbsIds.named, truncated: {}, fields: [['lbs-input', '{"DataStreamName":"order-1","Info":[1]}']], stream: 'order-1' },
      { kind: 'lbs', id: second, time: time(second!), reason: expect.stringMatching(/^lbs-input is not valid JSON/), lbsId: lbsIds.notJson, truncated: {}, fields: [['lbs-input', '{"DataStreamName":']], stream: null },
    ],
    next: first,
  });
  // Every field of the record, as Redis has it.
  const [raw] = await redis.admin.xRange(keysFor(service).deadLetter, third!, third!);
  expect(raw!.message).toEqual({ reason: 'Info is not a JSON object', 'lbs-id': lbsIds.named, 'lbs-input': '{"DataStreamName":"order-1","Info":[1]}' });

  const last = JSON.parse((await rsc(service, 'list', '--json', '--count', '3', '--from', page.next!)).stdout) as typeof page;
  expect(last.deadLetters).toEqual([{ kind: 'lbs', id: first, time: time(first!), reason: 'missing field lbs-input', lbsId: lbsIds.missing, truncated: {}, fields: [['origin', 'by hand']], stream: null }]);
  expect(last.next).toBeNull();
});

it('list: a table, newest first, then the --from of the next page', async () => {
  const service = serviceName();
  const { lbsIds, forged, records } = await lbsDeadLetters(service);
  const [first, second, third] = records;
  const result = await rsc(service, 'list', '--count', '3');
  expect(result.code).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^ID\s+TIME\s+STREAM\s+LBS ID\s+REASON$/);
  expect(lines[1]).toMatch(new RegExp(`^${forged}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+-\\s+-\\s+malformed record: its first field is not \`reason\`$`));
  expect(lines[2]).toMatch(new RegExp(`^${third}\\s+\\S+ \\S+\\s+order-1\\s+${lbsIds.named}\\s+Info is not a JSON object$`));
  expect(lines[3]).toMatch(new RegExp(`^${second}\\s+\\S+ \\S+\\s+-\\s+${lbsIds.notJson}\\s+lbs-input is not valid JSON`));
  expect(lines[4]).toBe(`Next page: --from ${first}`);
  expect(lines).toHaveLength(5);

  const last = await rsc(service, 'list', '--from', first!);
  expect(last.stdout.trimEnd().split('\n').slice(1)).toEqual([expect.stringMatching(new RegExp(`^${first}\\s.*missing field lbs-input$`)), 'No older records.']);
  expect((await rsc(serviceName(), 'list')).stdout).toBe('No records.\n');
});

it('show --kind entries: whole records, with the entry dead letter a handler left; an id not there is exit 1, named', async () => {
  const service = serviceName();
  const stream = `failing-${service}`;
  const { ids, recordId } = await entryDeadLetter(redis, service, stream);

  const text = await rsc(service, 'show', '--kind', 'entries', recordId);
  expect(text.stderr).toBe('');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(
    new RegExp(
      `^${recordId} {2}entry dead letter, \\S+ \\S+Z\\n  stream: ${stream}\\n  entry id: ${ids[1]}\\n  attempts: 1\\n  error: cannot handle n=1\\n  fields:\\n    n: 1\\n$`,
    ),
  );

  const json = await rsc(service, 'show', '--kind', 'entries', '--json', recordId, '1-1');
  expect(json.code).toBe(1);
  expect(json.stderr).toBe('rsc: 1 of 2 not shown: 1-1 (not-found)\n');
  expect(JSON.parse(json.stdout)).toEqual({
    version: 1,
    service,
    kind: 'entries',
    key: keysFor(service).entryDeadLetter,
    outcomes: [
      { id: recordId, outcome: 'found', deadLetter: { kind: 'entries', id: recordId, time: Number(recordId.split('-')[0]), stream, entryId: ids[1], attempts: 1, error: 'cannot handle n=1', fields: { n: '1' } } },
      { id: '1-1', outcome: 'not-found' },
    ],
  });
  // --kind lbs (the default) is the other stream: the record is not there.
  const other = await rsc(service, 'show', recordId);
  expect(other).toMatchObject({ code: 1, stdout: `${recordId} not found\n` });
});

it('requeue: an LBS dead letter goes back onto the LBS, where a running consumer takes the stream; the record is gone', async () => {
  const service = serviceName();
  const stream = `wrong-type-${service}`;
  const keys = keysFor(service);
  await redis.admin.set(stream, 'not a stream');
  const { client, seen } = await processingConsumer(redis.fleet, service, new Set());
  await addStream(redis.admin, service, stream, { region: 'eu' });
  const [recordId] = await deadLetterIds(redis.admin, keys.deadLetter, 1);
  // The cause fixed: the key is a stream now.
  await redis.admin.del(stream);
  await append(redis.admin, stream, 2);

  const result = await rsc(service, 'requeue', recordId!);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const [, newId] = /^\S+ requeued as (\S+) in (\S+)\n$/.exec(result.stdout)!;
  expect(result.stdout).toBe(`${recordId} requeued as ${newId} in ${keys.lbs}\n`);
  await waitFor(() => seen.numbers(stream).length === 2);
  expect(client.owned().find((lease) => lease.stream === stream)).toMatchObject({ lbsId: newId, info: { region: 'eu' } });
  expect(await redis.admin.xLen(keys.deadLetter)).toBe(0);

  // Again: it is gone.
  const again = await rsc(service, 'requeue', recordId!);
  expect(again).toMatchObject({ code: 1, stdout: `${recordId} not found\n`, stderr: `rsc: 1 of 1 not requeued: ${recordId} (not-found)\n` });
});

it('requeue --kind entries: the entry is appended to its stream again and processed; a refused record is left, exit 1', async () => {
  const service = serviceName();
  const stream = `failing-${service}`;
  const keys = keysFor(service);
  const { seen, recordId } = await entryDeadLetter(redis, service, stream);
  const forged = await redis.admin.xAdd(keys.entryDeadLetter, '*', { stream, note: 'replay me' });

  const result = await rsc(service, 'requeue', '--kind', 'entries', recordId, forged);
  expect(result.code).toBe(1);
  const lines = result.stdout.trimEnd().split('\n');
  const newId = /^\S+ requeued as (\S+) in /.exec(lines[0]!)![1];
  expect(lines).toEqual([`${recordId} requeued as ${newId} in ${stream}`, `${forged} refused: the record is not in the library's format (it has no field \`id\`)`]);
  expect(result.stderr).toBe(`rsc: 1 of 2 not requeued: ${forged} (refused)\n`);
  await waitFor(() => seen.count === 3);
  expect(seen.numbers(stream)).toEqual([0, 2, 1]);
  expect(seen.of(stream)[2]!.id).toBe(newId);
  expect((await redis.admin.xRange(keys.entryDeadLetter, '-', '+')).map((entry) => entry.id)).toEqual([forged]);
});

it('drop: deletes the records, one line per id; an id not there is exit 1; a bad id among them drops nothing (exit 2)', async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const kept = await redis.admin.xAdd(keys.entryDeadLetter, '*', { note: 'kept' });
  const dropped = await redis.admin.xAdd(keys.entryDeadLetter, '*', { note: 'dropped' });

  const bad = await rsc(service, 'drop', '--kind', 'entries', dropped, 'latest');
  expect(bad).toMatchObject({ code: 2, stdout: '', stderr: "rsc: ID must be a stream id such as 1700000000000-0, got 'latest'\nRun 'rsc help dead-letter' for usage.\n" });
  expect(await redis.admin.xLen(keys.entryDeadLetter)).toBe(2);

  const result = await rsc(service, 'drop', '--kind', 'entries', dropped, '1-1');
  expect(result).toMatchObject({ code: 1, stdout: `${dropped} dropped\n1-1 not found\n`, stderr: 'rsc: 1 of 2 not dropped: 1-1 (not-found)\n' });
  expect((await redis.admin.xRange(keys.entryDeadLetter, '-', '+')).map((entry) => entry.id)).toEqual([kept]);

  const json = await rsc(service, 'drop', '--kind', 'entries', '--json', kept);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ version: 1, service, kind: 'entries', key: keys.entryDeadLetter, outcomes: [{ id: kept, outcome: 'dropped' }] });
  expect(await redis.admin.xLen(keys.entryDeadLetter)).toBe(0);
});
