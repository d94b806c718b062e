import { expect, it } from 'vitest';
import { addStream, keysFor } from '../../../lib/index.js';
import { runCli, useBuiltCli } from '../../support/cli.js';
import { serviceName } from '../../support/fleet.js';
import { Seen, append } from '../../support/processing.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();
const cli = useBuiltCli();

function rsc(service: string, ...args: string[]) {
  return runCli(cli.bin, ['position', '--service', service, '--url', redis.server.url, ...args]);
}

/** A stream processed to its last entry by `worker-1`, which goes on owning it. */
async function processedStream(service: string) {
  const stream = `owned-${service}`;
  const ids = await append(redis.admin, stream, 3);
  const { client, log } = await redis.fleet.consumer({ serviceName: service, consumerId: 'worker-1', heartbeatMs: 1000 });
  client.run({ eachEntry: () => undefined, commitIntervalMs: 20 });
  await addStream(redis.admin, service, stream);
  const lease = await waitFor(() => log.added[0]);
  await waitFor(async () => (await redis.admin.hGet(keysFor(service).positions, stream)) === ids[2]);
  return { stream, ids, lease };
}

it("get: the stream's position, the token fencing it and its live owner, as Redis holds them", async () => {
  const service = serviceName();
  const keys = keysFor(service);
  const { stream, ids, lease } = await processedStream(service);

  const json = await rsc(service, 'get', stream, '--json');
  expect(json.stderr).toBe('');
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({
    version: 1,
    service,
    stream,
    position: ids[2],
    token: Number(await redis.admin.hGet(keys.positionTokens, stream)),
    owner: { consumerId: 'worker-1', lbsId: await redis.admin.hGet(keys.owners, stream), live: true },
  });
  expect(lease.token).toBe(JSON.parse(json.stdout).token);

  const text = await rsc(service, 'get', stream);
  expect(text.code).toBe(0);
  expect(text.stdout).toBe(
    [`stream:   ${stream}`, `position: ${ids[2]}`, `token:    ${lease.token}`, `owner:    worker-1 (live), through LBS entry ${lease.lbsId}`, ''].join('\n'),
  );

  const unknown = await rsc(service, 'get', 'never-seen', '--json');
  expect(JSON.parse(unknown.stdout)).toEqual({ version: 1, service, stream: 'never-seen', position: null, token: null, owner: null });
});

it('set while a consumer owns the stream: refused, exit 1 naming the owner, the position left', async () => {
  const service = serviceName();
  const { stream, ids } = await processedStream(service);
  const result = await rsc(service, 'set', stream, ids[0]!);
  expect(result.code).toBe(1);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe(`rsc: refused to set the position of '${stream}': consumer 'worker-1' owns it (live): let it call setPosition(), or hand the stream over first\n`);
  expect(await redis.admin.hGet(keysFor(service).positions, stream)).toBe(ids[2]);

  const json = await rsc(service, 'set', stream, ids[0]!, '--json');
  expect(json.code).toBe(1);
  expect(JSON.parse(json.stdout)).toMatchObject({ version: 1, service, stream, outcome: 'owned', position: null, owner: { consumerId: 'worker-1', live: true } });
});

it('set on a stream nobody owns: prints set, and its first owner goes on after the position; a bad ID is exit 2', async () => {
  const service = serviceName();
  const stream = `seeded-${service}`;
  const ids = await append(redis.admin, stream, 5);
  const bad = await rsc(service, 'set', stream, ids[2]!.split('-')[0]!);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/^rsc: ID must be a stream id such as 1700000000000-0, got '\d+'\n/);
  expect(await redis.admin.exists(keysFor(service).positions)).toBe(0);

  const result = await rsc(service, 'set', stream, ids[2]!);
  expect(result).toMatchObject({ code: 0, stdout: 'set\n', stderr: '' });
  expect(await redis.admin.hGet(keysFor(service).positions, stream)).toBe(ids[2]);

  const seen = new Seen();
  const { client } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 1000 });
  client.run({ eachEntry: seen.record });
  await addStream(redis.admin, service, stream);
  await waitFor(() => seen.count === 2);
  expect(seen.numbers(stream)).toEqual([3, 4]);
});
