import { expect, it } from 'vitest';
import { keysFor } from '../../../lib/index.js';
import { runCli, useBuiltCli } from '../../support/cli.js';
import { serviceName } from '../../support/fleet.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();
const cli = useBuiltCli();

it('adds a stream that a consumer of the service then owns, with its info; prints the LBS entry id', async () => {
  const service = serviceName();
  const { client, log } = await redis.fleet.consumer({ serviceName: service, heartbeatMs: 600 });
  const stream = `${service}-orders`;
  const result = await runCli(cli.bin, ['add', '--service', service, '--url', redis.server.url, stream, '--info', '{"region":"eu","shard":3}']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/^\d+-\d+\n$/);
  await waitFor(() => log.added.length === 1);
  expect(log.added[0]).toMatchObject({ stream, lbsId: result.stdout.trim(), info: { region: 'eu', shard: 3 } });
  expect(client.owned().map((lease) => lease.stream)).toEqual([stream]);
});

it('reads the URL from REDIS_URL when --url is not given; no --info is {}', async () => {
  const service = serviceName();
  const result = await runCli(cli.bin, ['add', '--service', service, 'plain'], { env: { REDIS_URL: redis.server.url } });
  expect(result.code).toBe(0);
  const entries = await redis.admin.xRange(keysFor(service).lbs, '-', '+');
  expect(entries).toEqual([{ id: result.stdout.trim(), message: { 'lbs-input': JSON.stringify({ DataStreamName: 'plain', Info: {} }) } }]);
});
