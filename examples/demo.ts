// Run: npm run demo   (or: npx tsx examples/demo.ts)
// Three consumer processes share 30 streams and process their entries with run() while the demo keeps writing to
// them; the busiest consumer is killed with SIGKILL and the other two take its streams over, going on from the
// positions it committed: nothing is lost, and the entries it processed after its last commit are processed twice
// (the demo counts them). Uses REDIS_URL when it is set and not empty, otherwise starts a private redis-server on a
// free loopback port. Ctrl-C (or SIGTERM) at any moment stops what the demo started, and only that: its consumer
// processes, its redis-server and its temp dir (with REDIS_URL, the demo's keys are deleted).
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
/** The demo writes one entry to every stream this often. */
const WRITE_EVERY_MS = 50;

/** What a consumer process reports to the parent. */
type Report =
  | { kind: 'ready' }
  | { kind: 'added'; stream: string; token: number; recovered: boolean }
  | { kind: 'first'; stream: string; token: number; n: number }
  | { kind: 'error'; message: string };

async function consumer(url: string, serviceName: string, consumerId: string): Promise<void> {
  // The parent may be gone by the time a report is sent (Ctrl-C): the callback keeps that from being an error.
  const report = (message: Report) => process.connected && process.send?.(message, undefined, undefined, () => undefined);
  process.on('disconnect', () => process.exit(1)); // the parent is gone: do not linger
  if (!process.connected) process.exit(1);
  const redis = createClient({ url });
  redis.on('error', (error: Error) => report({ kind: 'error', message: error.message }));
  await redis.connect();
  const client = new RedisStreamClient(redis, { serviceName, consumerId, autoClaim: true, heartbeatMs: HEARTBEAT_MS });
  client.on('streamAdded', ({ stream, token, recovered }) => report({ kind: 'added', stream, token, recovered }));
  const started = new Set<string>(); // stream and token: the leases whose first entry was reported
  client.run({
    eachEntry: async ({ stream, fields, token }) => {
      // The work: count the entry in a hash of the demo's own. Handlers are called at least once per entry; a
      // real one writes downstream fenced by the token (docs/guarantees.md).
      await redis.hIncrBy(processedKey(serviceName), `${stream}#${fields.n}`, 1);
      if (started.has(`${stream} ${token}`)) return;
      started.add(`${stream} ${token}`);
      report({ kind: 'first', stream, token, n: Number(fields.n) });
    },
  });
  client.on('error', (error) => report({ kind: 'error', message: error.message }));
  process.on('message', (message) => {
    if (message !== 'stop') return;
    // done(): finish every owned stream and leave the fleet (close() would hand them to the others instead).
    client
      .done()
      .then(() => redis.quit())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
  try {
    await client.init();
    report({ kind: 'ready' });
  } catch (error) {
    report({ kind: 'error', message: `init() failed: ${(error as Error).message}` });
    process.exit(1);
  }
}

/** Runs the demo; on SIGINT or SIGTERM, stops what it started and exits. */
async function demo(): Promise<void> {
  const run = new DemoRun();
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A terminal's Ctrl-C reaches every process of the group, and tsx may pass it on once more: the first signal
    // starts the clean-up, and later ones (a second Ctrl-C too) must not cut it short.
    if (signalled) return;
    signalled = true;
    console.log(`\n${signal}: stopping the demo's consumers${run.hasPrivateServer() ? ' and its redis-server' : ''}`);
    void run.stop().finally(() => process.exit(128 + os.constants.signals[signal]));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await run.run();
  } catch (error) {
    if (!run.isStopping()) {
      console.error(`Demo failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  } finally {
    await run.stop();
  }
}

/** One run of the demo and everything it starts, so that stop() can end all of it whenever it is called. */
class DemoRun {
  private readonly serviceName = `demo-${randomUUID().slice(0, 8)}`;
  private readonly children = new Map<string, ChildProcess>();
  private server: PrivateRedis | undefined;
  private redis: ReturnType<typeof createClient> | undefined;
  private writer: Writer | undefined;
  /** The data streams and the demo's own hash, deleted at the end from a Redis given by REDIS_URL. */
  private readonly dataKeys: string[] = [];
  private stopped: Promise<void> | undefined;

  hasPrivateServer(): boolean {
    return this.server !== undefined;
  }

  isStopping(): boolean {
    return this.stopped !== undefined;
  }

  async run(): Promise<void> {
    const givenUrl = process.env.REDIS_URL || undefined; // set but empty counts as not set
    if (!givenUrl) this.server = new PrivateRedis();
    const url = givenUrl ?? (await this.server!.start());
    const serviceName = this.serviceName;
    console.log(`Redis ${url}${this.server ? ' (private redis-server)' : ''}, service "${serviceName}", heartbeatMs ${HEARTBEAT_MS}\n`);

    // No reconnecting: a wrong REDIS_URL fails the demo at once instead of retrying forever.
    const redis = createClient({ url, socket: { reconnectStrategy: false } });
    this.redis = redis;
    redis.on('error', (error: Error) => {
      if (!this.isStopping()) console.error(`redis: ${error.message}`);
    });
    await redis.connect();

    const ready = new Set<string>();
    const owner = new Map<string, string>(); // stream -> consumer id
    let killedAt: number | undefined = undefined; // set at the SIGKILL
    let failed: string | undefined;
    const takeoverMs: number[] = [];
    const resumedAt = new Map<string, number>(); // a stream taken over -> the first entry its new owner processed

    const onReport = (id: string, message: Report): void => {
      if (message.kind === 'ready') ready.add(id);
      else if (message.kind === 'error') {
        if (!this.isStopping()) console.log(`  [${id}] error: ${message.message}`);
      } else if (message.kind === 'first') {
        if (killedAt !== undefined && !resumedAt.has(message.stream)) resumedAt.set(message.stream, message.n);
      } else {
        owner.set(message.stream, id);
        if (message.recovered && killedAt !== undefined) {
          const ms = performance.now() - killedAt;
          takeoverMs.push(ms);
          console.log(`  +${ms.toFixed(0).padStart(4)} ms  ${label(message.stream)} -> ${id} (token ${message.token})`);
        }
      }
    };

    for (const id of CONSUMERS) {
      if (this.isStopping()) return;
      const child = fork(fileURLToPath(import.meta.url), ['consumer', url, serviceName, id], { execArgv: process.execArgv });
      child.on('message', (message: Report) => onReport(id, message));
      child.on('exit', () => !ready.has(id) && (failed ??= `consumer ${id} exited before it was ready`));
      this.children.set(id, child);
    }
    await this.waitFor(() => failed !== undefined || ready.size === CONSUMERS.length, 20_000, 'consumers to start');
    if (failed) throw new Error(failed);

    const streams = Array.from({ length: STREAMS }, (_, i) => `${serviceName}:orders-${String(i + 1).padStart(2, '0')}`);
    this.dataKeys.push(...streams, processedKey(serviceName));
    for (const [i, stream] of streams.entries()) await addStream(redis, serviceName, stream, { n: i + 1 });
    await this.waitFor(() => owner.size === STREAMS, 10_000, 'all streams to be owned');
    console.log(`${STREAMS} streams added to the LBS; owners:`);
    printOwners(owner);

    // Entries are written to every stream all along, and processed as they come.
    const writer = new Writer(redis, streams);
    this.writer = writer;
    await sleep(1000);
    const [victim, victimStreams] = [...byOwner(owner)].sort((a, b) => b[1].length - a[1].length)[0]!;
    console.log(`\nWriting an entry to every stream each ${WRITE_EVERY_MS} ms; after ${writer.written} entries, SIGKILL ${victim} (owner of ${victimStreams.length} streams); takeovers, time since the kill:`);
    killedAt = performance.now();
    this.children.get(victim)!.kill('SIGKILL');
    await this.waitFor(() => victimStreams.every((stream) => owner.get(stream) !== victim && resumedAt.has(stream)), 15_000, 'the takeover');
    await sleep(500);
    await writer.stop();

    // Every entry written is processed; the ones the victim processed after its last commit are processed twice.
    const processed = processedKey(serviceName);
    await this.waitFor(async () => (await redis.hLen(processed)) === writer.written, 15_000, 'every entry to be processed');
    const counts = await redis.hGetAll(processed);
    const twice = Object.entries(counts).filter(([, count]) => Number(count) > 1).map(([entry]) => entry);
    console.log(`\nThe streams taken over went on after the positions ${victim} had committed (every 100 ms):`);
    for (const stream of victimStreams) {
      const again = twice.filter((entry) => entry.startsWith(`${stream}#`)).map((entry) => `#${entry.split('#')[1]}`);
      console.log(`  ${label(stream)} -> ${owner.get(stream)}: from entry #${resumedAt.get(stream)}; processed twice: ${again.join(' ') || 'none'}`);
    }

    // Cross-check with Redis: the consumer group's pending entries are the ownership records.
    const keys = keysFor(serviceName);
    const pending = await redis.xPending(keys.lbs, keys.group);
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
        ` p50 ${sorted[Math.floor((sorted.length - 1) / 2)]!.toFixed(0)} ms after the SIGKILL;` +
        ` ${writer.written} entries written, every one processed, ${twice.length} of them twice.`,
    );
    if (!agrees || sorted.length !== victimStreams.length) process.exitCode = 1;

    // The survivors finish their streams and leave; stop() kills any that takes longer.
    const survivorProcesses = [...this.children].filter(([id]) => id !== victim).map(([, child]) => child);
    for (const child of survivorProcesses) child.send('stop');
    await within(Promise.all(survivorProcesses.map(exited)), 5000);
  }

  /** Stops the consumers, deletes the demo's keys from a Redis given by REDIS_URL, closes the connection and stops
   * the private redis-server. Safe to call at any moment and more than once; every call waits for the same end. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  private async stopAll(): Promise<void> {
    this.writer?.halt();
    await Promise.all(
      [...this.children.values()].map(async (child) => {
        if (!isRunning(child)) return;
        child.kill('SIGKILL');
        await exited(child);
      }),
    );
    const redis = this.redis;
    if (redis?.isOpen) {
      if (!this.server) {
        const keys = keysFor(this.serviceName);
        const names = Object.entries(keys).filter(([name]) => name !== 'group' && name !== 'sessionPrefix');
        const sessions = CONSUMERS.map((id) => keys.sessionPrefix + id);
        await within(redis.del([...names.map(([, key]) => key), ...sessions, ...this.dataKeys]), 2000);
      }
      // Not QUIT, which would wait for a private server that a terminal's Ctrl-C may have stopped already.
      await redis.disconnect().catch(() => undefined);
    }
    await this.server?.stop();
  }

  /** Polls `condition`; fails after `timeoutMs`, or at once when the run is being stopped. */
  private async waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!(await condition())) {
      if (this.isStopping()) throw new Error(`Stopped while waiting for ${what}`);
      if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(5);
    }
  }
}

/** Writes one entry to every stream every WRITE_EVERY_MS (field `n`: its number in its stream) until stopped. */
class Writer {
  /** Entries written so far, in all. */
  written = 0;
  private stopped = false;
  private failure: unknown;
  private readonly loop: Promise<void>;

  constructor(
    private readonly redis: ReturnType<typeof createClient>,
    private readonly streams: readonly string[],
  ) {
    this.loop = this.write().catch((error: unknown) => void (this.failure = error));
  }

  /** Writes no more; resolves once the last writes are done, and rejects if one failed. */
  async stop(): Promise<void> {
    this.halt();
    await this.loop;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Writes no more, without waiting (the demo is being stopped). */
  halt(): void {
    this.stopped = true;
  }

  private async write(): Promise<void> {
    for (let n = 1; !this.stopped; n++) {
      await Promise.all(this.streams.map((stream) => this.redis.xAdd(stream, '*', { n: String(n) })));
      this.written += this.streams.length;
      await sleep(WRITE_EVERY_MS);
    }
  }
}

/** A throwaway redis-server on a free loopback port, without persistence, in a temp dir of its own. */
class PrivateRedis {
  private child: ChildProcess | undefined;
  private dir: string | undefined;
  private stopped = false;
  /** The last resort, should the process end without stop() (process.exit elsewhere, a crash): synchronous. */
  private readonly killNow = (): void => {
    if (this.child && isRunning(this.child)) this.child.kill('SIGKILL');
    this.removeDir();
  };

  /** Starts the server; resolves with its URL once it answers PING. */
  async start(): Promise<string> {
    if (spawnSync('redis-server', ['--version']).error) {
      throw new Error('redis-server not found: install Redis 7 (apt-get install redis-server, brew install redis) or set REDIS_URL');
    }
    const port = await freePort();
    if (this.stopped) throw new Error('Stopped before redis-server started');
    this.dir = mkdtempSync(path.join(os.tmpdir(), 'rsc-demo-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    process.on('exit', this.killNow);
    let spawnError: Error | undefined;
    child.on('error', (error) => (spawnError = error));
    for (let deadline = performance.now() + 10_000; !(await pings(port)); await sleep(20)) {
      if (this.stopped || spawnError || !isRunning(child) || performance.now() > deadline) {
        throw new Error(`redis-server did not start on port ${port}${spawnError ? `: ${spawnError.message}` : ''}`);
      }
    }
    if (this.stopped) throw new Error('Stopped while redis-server was starting');
    return `redis://127.0.0.1:${port}`;
  }

  /** Stops the server (SIGTERM, then SIGKILL if it lingers) and removes its temp dir. */
  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (child && isRunning(child)) {
      child.kill('SIGTERM');
      if (!(await within(exited(child), 2000))) {
        child.kill('SIGKILL');
        await exited(child);
      }
    }
    this.removeDir();
    process.off('exit', this.killNow);
  }

  private removeDir(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child process has exited (at once if it has already). */
async function exited(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  await once(child, 'exit').catch(() => undefined);
}

/** Waits for `promise` at most `ms`; true when it settled in time. Its timer is cleared, so it keeps nothing alive. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    const settled = promise.then(
      () => true,
      () => true,
    );
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
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
    if (streams.length > 0) console.log(`  ${id}: ${String(streams.length).padStart(2)}  orders-{${streams.map((s) => label(s).slice(7)).join(',')}}`);
  }
}

/** The demo's hash that counts how often each entry was processed (field: stream and entry number). */
function processedKey(serviceName: string): string {
  return `${serviceName}:processed`;
}

/** A stream's name without the demo's prefix: orders-07. */
function label(stream: string): string {
  return stream.slice(stream.lastIndexOf(':') + 1);
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

// Last, so that the classes above are defined: the parent runs the demo, its forked children the consumers.
if (process.argv[2] === 'consumer') await consumer(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await demo();
