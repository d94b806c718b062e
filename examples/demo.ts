// Run: npm run demo   (or: npx tsx examples/demo.ts)
// Three consumer processes share 30 streams; the busiest one is killed with SIGKILL and the other two take its
// streams over. Uses REDIS_URL when set, otherwise starts a private redis-server on a free loopback port.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
// The library's source, so that `npm ci && npm run demo` needs no build; applications import 'redis-stream-client'.
import { RedisStreamClient, addStream, keysFor } from '../lib/index.js';

const STREAMS = 30;
const CONSUMERS = ['c1', 'c2', 'c3'];
const HEARTBEAT_MS = 1000;

/** What a consumer process reports to the parent. */
type Report =
  | { kind: 'ready' }
  | { kind: 'added'; stream: string; token: number; recovered: boolean }
  | { kind: 'error'; message: string };

if (process.argv[2] === 'consumer') await consumer(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else {
  await main().catch((error: unknown) => {
    console.error(`Demo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}

async function consumer(url: string, serviceName: string, consumerId: string): Promise<void> {
  const report = (message: Report) => process.connected && process.send?.(message);
  process.on('disconnect', () => process.exit(1)); // the parent is gone: do not linger
  const redis = createClient({ url });
  redis.on('error', (error: Error) => report({ kind: 'error', message: error.message }));
  await redis.connect();
  const client = new RedisStreamClient(redis, { serviceName, consumerId, autoClaim: true, heartbeatMs: HEARTBEAT_MS });
  client.on('streamAdded', ({ stream, token, recovered }) => report({ kind: 'added', stream, token, recovered }));
  client.on('error', (error) => report({ kind: 'error', message: error.message }));
  process.on('message', (message) => {
    if (message !== 'stop') return;
    // done(): finish every owned stream and leave the fleet (close() would hand them to the others instead).
    void client.done().then(() => redis.quit()).then(() => process.exit(0));
  });
  try {
    await client.init();
    report({ kind: 'ready' });
  } catch (error) {
    report({ kind: 'error', message: `init() failed: ${(error as Error).message}` });
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const server = process.env.REDIS_URL ? undefined : await startPrivateRedis();
  const url = process.env.REDIS_URL ?? server!.url;
  const serviceName = `demo-${randomUUID().slice(0, 8)}`;
  console.log(`Redis ${url}${server ? ' (private redis-server)' : ''}, service "${serviceName}", heartbeatMs ${HEARTBEAT_MS}\n`);

  const redis = createClient({ url });
  redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
  await redis.connect();

  const children = new Map<string, ChildProcess>();
  const ready = new Set<string>();
  const owner = new Map<string, string>(); // stream -> consumer id
  let killedAt: number | undefined;
  let failed: string | undefined;
  const takeoverMs: number[] = [];

  const onReport = (id: string, message: Report): void => {
    if (message.kind === 'ready') ready.add(id);
    else if (message.kind === 'error') console.log(`  [${id}] error: ${message.message}`);
    else {
      owner.set(message.stream, id);
      if (message.recovered && killedAt !== undefined) {
        const ms = performance.now() - killedAt;
        takeoverMs.push(ms);
        console.log(`  +${ms.toFixed(0).padStart(4)} ms  ${message.stream} -> ${id} (token ${message.token})`);
      }
    }
  };

  try {
    for (const id of CONSUMERS) {
      const child = fork(fileURLToPath(import.meta.url), ['consumer', url, serviceName, id], { execArgv: process.execArgv });
      child.on('message', (message: Report) => onReport(id, message));
      child.on('exit', () => !ready.has(id) && (failed ??= `consumer ${id} exited before it was ready`));
      children.set(id, child);
    }
    await waitFor(() => failed !== undefined || ready.size === CONSUMERS.length, 20_000, 'consumers to start');
    if (failed) throw new Error(failed);

    for (let i = 1; i <= STREAMS; i++) await addStream(redis, serviceName, `orders-${String(i).padStart(2, '0')}`, { n: i });
    await waitFor(() => owner.size === STREAMS, 10_000, 'all streams to be owned');
    console.log(`${STREAMS} streams added to the LBS; owners:`);
    printOwners(owner);

    const [victim, victimStreams] = [...byOwner(owner)].sort((a, b) => b[1].length - a[1].length)[0]!;
    console.log(`\nSIGKILL ${victim} (owner of ${victimStreams.length} streams); takeovers, time since the kill:`);
    killedAt = performance.now();
    children.get(victim)!.kill('SIGKILL');
    children.delete(victim);
    await waitFor(() => victimStreams.every((stream) => owner.get(stream) !== victim), 15_000, 'the takeover');

    // Cross-check with Redis: the consumer group's pending entries are the ownership records.
    const pending = await redis.xPending(keysFor(serviceName).lbs, keysFor(serviceName).group);
    const inRedis = new Map((pending.consumers ?? []).map((c) => [c.name, Number(c.deliveriesCounter)]));
    const survivors = [...byOwner(owner)].filter(([id]) => id !== victim);
    const agrees = survivors.every(([id, streams]) => (inRedis.get(id) ?? 0) === streams.length) && !inRedis.has(victim);

    console.log('\nOwners now:');
    printOwners(owner);
    const sorted = [...takeoverMs].sort((a, b) => a - b);
    console.log(
      `\nSummary: ${owner.size} streams, owners ${survivors.map(([id, streams]) => `${id}=${streams.length}`).join(' ')}` +
        ` (Redis pending entries ${agrees ? 'agree' : `DISAGREE: ${JSON.stringify([...inRedis])}`});` +
        ` ${sorted.length} taken over from ${victim}: max ${sorted.at(-1)!.toFixed(0)} ms,` +
        ` p50 ${sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(0)} ms after the SIGKILL.`,
    );
    if (!agrees || sorted.length !== victimStreams.length) process.exitCode = 1;

    for (const child of children.values()) child.send('stop');
    await Promise.race([Promise.all([...children.values()].map((child) => once(child, 'exit'))), sleep(5000)]);
  } finally {
    for (const child of children.values()) child.kill('SIGKILL');
    const keys = keysFor(serviceName);
    const sessions = CONSUMERS.map((id) => keys.sessionPrefix + id);
    await redis.del([keys.lbs, keys.deadLetter, keys.consumers, keys.owners, keys.loads, keys.readers, keys.token, ...sessions]);
    await redis.quit();
    await server?.stop();
  }
}

/** Consumer id -> the streams it owns, sorted. */
function byOwner(owner: Map<string, string>): Map<string, string[]> {
  const result = new Map(CONSUMERS.map((id) => [id, [] as string[]]));
  for (const [stream, id] of [...owner].sort()) result.get(id)!.push(stream);
  return result;
}

function printOwners(owner: Map<string, string>): void {
  for (const [id, streams] of byOwner(owner)) {
    if (streams.length > 0) console.log(`  ${id}: ${String(streams.length).padStart(2)}  orders-{${streams.map((s) => s.slice(7)).join(',')}}`);
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A throwaway redis-server on a free loopback port, without persistence, in a temp dir. */
async function startPrivateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (spawnSync('redis-server', ['--version']).error) {
    console.error('redis-server not found: install Redis 7 (apt-get install redis-server, brew install redis) or set REDIS_URL.');
    process.exit(1);
  }
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rsc-demo-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const cleanUp = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp); // never leave it behind, even on a crash
  const url = `redis://127.0.0.1:${port}`;
  for (let deadline = performance.now() + 10_000; !(await pings(port)); await sleep(20)) {
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
  }
  return {
    url,
    stop: async () => {
      process.off('exit', cleanUp);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'));
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
    socket.setTimeout(500, () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
