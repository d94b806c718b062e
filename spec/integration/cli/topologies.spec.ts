/**
 * `rsc` on Redis Cluster (commands routed by key: the service's keys share one slot, a data stream may lie in
 * another) and on Redis Sentinel (node-redis 5 and 6: commands to the master the sentinels name).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInspection } from '../../../lib/admin/inspect.js';
import { runCli, useBuiltCli } from '../../support/cli.js';
import { Fleet, serviceName } from '../../support/fleet.js';
import { sentinelUnsupported } from '../../support/node-redis.js';
import { startCluster, type RedisCluster } from '../../support/redis-cluster.js';
import { startSentinel, type RedisSentinelSetup } from '../../support/redis-sentinel.js';
import { waitFor } from '../../support/wait.js';
import calculateSlot from 'cluster-key-slot';

const cli = useBuiltCli();
let fleet: Fleet;
afterEach(() => fleet?.close());

describe('on Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster?.stop());

  it('add, then inspect with the data stream in another slot than the service', async () => {
    fleet = new Fleet('');
    const service = serviceName();
    const redis = await cluster.connect();
    const { client, log } = await fleet.consumerOn(redis, { serviceName: service, heartbeatMs: 600 }, { start: false });
    client.run({ eachEntry: () => undefined });
    await client.init();
    // A stream whose slot has another master than the service's.
    const serviceMaster = await cluster.masterOf(calculateSlot(`{${service}}`));
    let stream = `${service}-0`;
    for (let i = 1; (await cluster.masterOf(calculateSlot(stream))) === serviceMaster; i++) stream = `${service}-${i}`;

    const nodes = cluster.nodes.slice(0, 2).map((node) => `127.0.0.1:${node.port}`).join(',');
    const add = await runCli(cli.bin, ['add', '--service', service, '--cluster', nodes, stream]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    await waitFor(() => log.added.length === 1);
    const entry = await redis.xAdd(stream, '*', { n: '1' });
    await waitFor(async () => (await redis.hGet(`rsc:{${service}}:positions`, stream)) === entry);

    const inspect = await runCli(cli.bin, ['inspect', '--service', service, '--cluster', nodes, '--json']);
    expect(inspect.stderr).toBe('');
    expect(inspect.code).toBe(0);
    const reading = JSON.parse(inspect.stdout) as ServiceInspection;
    expect(reading.consumers).toMatchObject([{ id: client.id(), alive: true, owned: 1 }]);
    expect(reading.streams).toMatchObject([{ name: stream, owner: client.id(), lbsId: add.stdout.trim(), position: entry, lagMs: 0 }]);
  });
});

describe.skipIf(sentinelUnsupported !== undefined)(`on Redis Sentinel${sentinelUnsupported ? ` (skipped: ${sentinelUnsupported})` : ''}`, () => {
  let setup: RedisSentinelSetup;
  beforeAll(async () => {
    setup = await startSentinel();
  });
  afterAll(() => setup?.stop());

  it('add, then inspect through the sentinels', async () => {
    fleet = new Fleet('');
    const service = serviceName();
    const { client, log } = await fleet.consumerOn(await setup.connect(), { serviceName: service, heartbeatMs: 600 });
    const sentinels = setup.rootNodes.map((node) => `${node.host}:${node.port}`).join(',');
    const target = ['--sentinel', sentinels, '--master-name', setup.name];
    const add = await runCli(cli.bin, ['add', '--service', service, ...target, `${service}-s`]);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    await waitFor(() => log.added.length === 1);
    const inspect = await runCli(cli.bin, ['inspect', '--service', service, ...target, '--json']);
    expect(inspect.code).toBe(0);
    const reading = JSON.parse(inspect.stdout) as ServiceInspection;
    expect(reading.consumers).toMatchObject([{ id: client.id(), alive: true, owned: 1 }]);
    expect(reading.streams).toMatchObject([{ name: `${service}-s`, owner: client.id(), lbsId: add.stdout.trim() }]);
  });
});
