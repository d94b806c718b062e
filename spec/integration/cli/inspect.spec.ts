import { expect, it } from 'vitest';
import type { ServiceInspection } from '../../../lib/admin/inspect.js';
import { addStream, keysFor, type RedisStreamClient } from '../../../lib/index.js';
import { runCli, startCli, useBuiltCli } from '../../support/cli.js';
import type { ConsumerChild } from '../../support/consumer-child.js';
import { serviceName } from '../../support/fleet.js';
import { useRedisServer } from '../../support/use-redis-server.js';
import { waitFor } from '../../support/wait.js';

const redis = useRedisServer();
const cli = useBuiltCli();

const HEARTBEAT_MS = 600;

interface Scene {
  service: string;
  dead: ConsumerChild;
  alive: RedisStreamClient;
  /** The data streams' names (each test's own: a stream's entries outlive the test): d0, d1, p. */
  streams: { d0: string; d1: string; p: string };
  /** The id of the one entry of `p` processed so far (the next is held by its handler). */
  processedId: string;
  /** The entry of `p` its handler holds: the first after the position. */
  heldId: string;
  release(): void;
}

/**
 * A service with a consumer SIGKILLed while owning d0 and d1 (in manual mode nobody takes them over: they await
 * takeover), and a live consumer `alive-a` (weight 2, maxStreams 5) processing `p`, whose second entry is held by
 * its handler, so that `p` has a position and a lag.
 */
async function scene(): Promise<Scene> {
  const service = serviceName();
  const keys = keysFor(service);
  const streams = { d0: `${service}-d0`, d1: `${service}-d1`, p: `${service}-p` };
  const dead = await redis.spawnConsumer({ serviceName: service, heartbeatMs: HEARTBEAT_MS, rebalance: false });
  await addStream(redis.admin, service, streams.d0);
  await addStream(redis.admin, service, streams.d1);
  await waitFor(() => dead.owned().size === 2);
  dead.kill('SIGKILL');
  await dead.exited;

  const { client: alive } = await redis.fleet.consumer(
    { serviceName: service, consumerId: 'alive-a', heartbeatMs: HEARTBEAT_MS, rebalance: false, weight: 2, maxStreams: 5 },
    { start: false },
  );
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  alive.run({ eachEntry: async (entry) => void (entry.fields.hold ? await held : undefined) });
  await alive.init();
  await alive.addStream(streams.p, { region: 'eu' });
  await waitFor(() => alive.owned().length === 1);
  const processedId = await redis.admin.xAdd(streams.p, '*', { n: '1' });
  const heldId = await redis.admin.xAdd(streams.p, '*', { hold: '1' });
  await waitFor(async () => (await redis.admin.hGet(keys.positions, streams.p)) === processedId);
  // The dead consumer's session has expired and a heartbeat sweep has recorded when.
  await waitFor(async () => (await redis.admin.hGet(keys.ended, dead.id)) != null);
  return { service, streams, dead, alive, processedId, heldId, release };
}

function url(): string {
  return redis.server.url;
}

it('--json: the consumers, streams, backlog and dead letters as Redis holds them', async () => {
  const { service, streams, dead, processedId, heldId, release } = await scene();
  const keys = keysFor(service);
  try {
    const result = await runCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
    const reading = JSON.parse(result.stdout) as { version: number } & ServiceInspection;
    expect(reading.version).toBe(1);
    expect(reading.service).toBe(service);
    expect(reading.found).toBe(true);

    const [deadOne, aliveOne] = [reading.consumers.find((c) => c.id === dead.id), reading.consumers.find((c) => c.id === 'alive-a')];
    expect(reading.consumers).toHaveLength(2);
    expect(deadOne).toMatchObject({ alive: false, sessionMsLeft: null, sessionDeadline: null, owned: 2, weight: 1, maxStreams: null, mode: 'manual', draining: false });
    expect(deadOne!.sessionEndedAt).toBe(Number(await redis.admin.hGet(keys.ended, dead.id)));
    expect(deadOne!.startedAt).toBe(Number(await redis.admin.hGet(keys.started, dead.id)));
    expect(aliveOne).toMatchObject({ alive: true, owned: 1, weight: 2, maxStreams: 5, mode: 'manual', draining: false, sessionEndedAt: null });
    expect(aliveOne!.sessionMsLeft).toBeGreaterThan(0);
    expect(aliveOne!.sessionMsLeft).toBeLessThanOrEqual(HEARTBEAT_MS);
    expect(aliveOne!.sessionDeadline).toBeGreaterThan(reading.serverTime);
    expect(aliveOne!.startedAt).toBe(Number(await redis.admin.hGet(keys.started, 'alive-a')));

    expect(reading.streamCount).toBe(3);
    expect(reading.streams.map((s) => s.name)).toEqual([streams.d0, streams.d1, streams.p]);
    for (const name of [streams.d0, streams.d1]) {
      const stream = reading.streams.find((s) => s.name === name)!;
      expect(stream).toMatchObject({ owner: dead.id, ownerAlive: false, lbsId: await redis.admin.hGet(keys.owners, name), deliveries: 1, token: null, position: null, lagMs: null });
      expect(stream.ownedMs).toBeGreaterThan(0);
    }
    const p = reading.streams.find((s) => s.name === streams.p)!;
    expect(p).toMatchObject({ owner: 'alive-a', ownerAlive: true, lbsId: await redis.admin.hGet(keys.owners, streams.p), deliveries: 1, position: processedId });
    expect(p.token).toBe(Number(await redis.admin.hGet(keys.positionTokens, streams.p)));
    expect(p.token).toBeGreaterThan(0);
    // The held entry is the first after the position: the lag is the age of its id, by the server's clock.
    expect(p.lagMs).toBe(reading.serverTime - Number(heldId.split('-')[0]));

    expect(reading.metrics).toEqual({ service, undeliveredEntries: 0, streamsAwaitingTakeover: 2, deadLetterEntries: { lbs: 0, entry: 0 }, liveConsumers: 1 });
  } finally {
    release();
  }
});

it('prints aligned tables by default; --limit bounds the streams listed (the first by name)', async () => {
  const { service, streams, dead, release } = await scene();
  try {
    const result = await runCli(cli.bin, ['inspect', '--service', service, '--url', url()]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Service ${service} at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ`));
    expect(result.stdout).toContain('Consumers: 1 alive, 1 dead');
    expect(lines.find((line) => line.startsWith(dead.id))).toMatch(new RegExp(`^${dead.id}\\s+dead\\s+-\\s+2\\s+1\\s+-\\s+manual\\s+no\\s`));
    expect(lines.find((line) => line.startsWith('alive-a'))).toMatch(/^alive-a\s+alive\s+\S+\s+1\s+2\s+5\s+manual\s+no\s/);
    expect(lines.find((line) => line.startsWith(`${streams.d0} `))).toMatch(new RegExp(`^${streams.d0}\\s+${dead.id}\\s+awaiting takeover\\s`));
    expect(lines.find((line) => line.startsWith(`${streams.p} `))).toMatch(new RegExp(`^${streams.p}\\s+alive-a\\s+alive\\s`));
    expect(result.stdout).toContain('LBS backlog: 0 undelivered entries, 2 streams awaiting takeover');
    expect(result.stdout).toContain('Dead letters: 0 in the LBS dead-letter stream, 0 in the entry dead-letter stream');
    // Columns line up: every row of the streams table starts its OWNER column where the heading does.
    const heading = lines.findIndex((line) => line.startsWith('STREAM'));
    const ownerColumn = lines[heading]!.indexOf('OWNER');
    const owners = lines.slice(heading + 1, heading + 4).map((row) => row.slice(ownerColumn).split(' ')[0]);
    expect(owners).toEqual([dead.id, dead.id, 'alive-a']);

    const limited = await runCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--limit', '1', '--json']);
    const reading = JSON.parse(limited.stdout) as ServiceInspection;
    expect(reading.streamCount).toBe(3);
    expect(reading.streams.map((s) => s.name)).toEqual([streams.d0]);
    const table = await runCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--limit', '2']);
    expect(table.stdout).toContain('Streams: the first 2 of 3 by name (--limit)');
  } finally {
    release();
  }
});

it('--watch reads again every SECONDS until SIGINT, then exits 0', async () => {
  const service = serviceName();
  await redis.fleet.consumer({ serviceName: service, consumerId: 'watched', heartbeatMs: HEARTBEAT_MS });
  const watching = startCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--watch', '1']);
  await waitFor(() => watching.stdout().split('\nService ').length >= 2 && watching.stdout().endsWith('\n\n'), { timeoutMs: 15_000 });
  watching.child.kill('SIGINT');
  const result = await watching.exited;
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const readings = result.stdout.split(/^(?=Service )/m);
  expect(readings.length).toBeGreaterThanOrEqual(2);
  for (const reading of readings) expect(reading).toMatch(/^watched\s+alive/m);
  // Not a terminal: no ANSI escapes, one reading after another.
  expect(result.stdout).not.toContain('\x1b[');
});

it('--watch --json prints one JSON document per line', async () => {
  const service = serviceName();
  const watching = startCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--json', '--watch', '1']);
  await waitFor(() => watching.stdout().split('\n').length >= 3, { timeoutMs: 15_000 });
  watching.child.kill('SIGINT');
  const result = await watching.exited;
  expect(result.code).toBe(0);
  const documents = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as ServiceInspection);
  expect(documents.length).toBeGreaterThanOrEqual(2);
  for (const document of documents) expect(document.service).toBe(service);
});

it('a service Redis has no keys of: exit 1, naming it (a mistyped --service would otherwise look empty)', async () => {
  const service = serviceName();
  const result = await runCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--json']);
  expect(result).toMatchObject({
    code: 1,
    stdout: '',
    stderr: `rsc: service '${service}' not found: no rsc:{${service}}:lbs in this Redis (check --service and the database)\n`,
  });
  // Once a stream was added, the service exists, consumers or not.
  await addStream(redis.admin, service, `${service}-first`);
  const found = await runCli(cli.bin, ['inspect', '--service', service, '--url', url(), '--json']);
  expect(found.code).toBe(0);
  expect(JSON.parse(found.stdout)).toMatchObject({ found: true, consumers: [], streams: [], metrics: { undeliveredEntries: 1 } });
});
