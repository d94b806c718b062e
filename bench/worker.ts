/**
 * A consumer process of the benchmarks. The bench process forks it (bench/lib/workers.ts) and drives it over
 * IPC: start a consumer (RedisStreamClient or a baseline), report what it owns and what it processed, hand off,
 * stop, measure memory; or produce entries at a steady rate. Every call its Redis clients send is counted here, by
 * command and by script. Every connection of a consumer carries its id as client name (CLIENT LIST). Its clients are
 * of the node-redis major given as `--client=v4|v5|v6` on its command line (bench/lib/node-redis.ts; v4 without).
 */
import { AlreadyClaimedError, RedisStreamClient, type LeaseOrigin, type ReleaseReason } from '../lib/index.js';
import { luaScripts } from '../lib/scripts/generated.js';
import { report, serveRequests, type Replying } from '../spec/support/forked.js';
import { PerStreamLocksConsumer, EXTEND_SHA } from './baselines/per-stream-locks.js';
import { PerStreamXreadConsumer } from './baselines/per-stream-xread.js';
import { PollingConsumer } from './baselines/polling.js';
import type { BaselineEvents, NodeRedis } from './baselines/common.js';
import { EntryRecorder } from './lib/entry-recorder.js';
import { exportMetrics, setRecording } from './lib/metrics-mode.js';
import { baselineClientOptions, loadCreateClient, parseClientMajors } from './lib/node-redis.js';
import { producePaced } from './lib/paced-producer.js';
import {
  wallNow,
  type AddedItem,
  type Counters,
  type ProcessedSnapshot,
  type ProduceRequest,
  type ProduceResult,
  type ReleasedItem,
  type Request,
  type StartConfig,
  type Started,
  type WorkerEvent,
} from './lib/protocol.js';

const FLUSH_MS = 20;
/** Script calls logged one by one after a counters reset. */
const LOG_LIMIT = 300;

const clientMajor = parseClientMajors(process.argv.find((arg) => arg.startsWith('--client='))?.slice('--client='.length))[0]!;
const createClient = await loadCreateClient(clientMajor);

const scriptNames = new Map<string, string>(Object.entries(luaScripts).map(([name, script]) => [script.sha, name]));
scriptNames.set(EXTEND_SHA, 'extend');

function emptyCounters(): Counters {
  return {
    calls: {}, scripts: {}, claimCalls: 0, claimRefused: 0, expiredEvents: 0, upkeepMs: [], disowned: 0, log: [], firstExpiredAt: 0,
    lastExpiredAt: 0, handoffMessages: [],
  };
}
let counters = emptyCounters();

/** Counts a call; for a script call, returns a function to call when its reply came. */
function count(args: readonly string[]): (() => void) | undefined {
  const command = String(args[0]).toUpperCase();
  counters.calls[command] = (counters.calls[command] ?? 0) + 1;
  if (command !== 'EVALSHA' && command !== 'EVAL') return undefined;
  // A script's first call is an EVAL of its source (ScriptRunner), later ones EVALSHA: both count under its name.
  const name = command === 'EVALSHA' ? (scriptNames.get(String(args[1])) ?? 'unknown') : scriptNameOfSource(String(args[1]));
  const sentAt = wallNow();
  const entry = (counters.scripts[name] ??= { calls: 0, entries: 0, totalMs: 0, maxMs: 0, firstAt: sentAt, lastAt: 0 });
  entry.calls++;
  if (name === 'claim') {
    // EVALSHA sha numkeys keys... argv...: claim.lua takes 7 arguments, then triples of entry id, stream, known.
    const numKeys = Number(args[2]);
    entry.entries += Math.max(0, (args.length - 3 - numKeys - 7) / 3);
  }
  const log = counters.log.length < LOG_LIMIT ? counters.log : undefined;
  return () => {
    const at = wallNow();
    entry.totalMs += at - sentAt;
    entry.maxMs = Math.max(entry.maxMs, at - sentAt);
    entry.lastAt = at;
    log?.push([name, sentAt, at - sentAt]);
  };
}

function scriptNameOfSource(source: string): string {
  for (const [name, script] of Object.entries(luaScripts)) if (script.source === source) return name;
  return 'unknown';
}

type MessageListener = (message: string, channel: string) => unknown;

/** A subscription listener that also times the 'handoff:' messages on `consumerId`'s session key's channel (another
 * consumer handed it the streams the message names; a pattern subscription hears those of the others too): when it
 * was heard, and how long the library took to own its streams (the listener adds them before it returns). */
function timingHandoffs(listener: MessageListener, consumerId: string): MessageListener {
  return (message, channel) => {
    if (!message.startsWith('handoff:') || !channel.endsWith(`:${consumerId}`)) return listener(message, channel);
    const heardAt = wallNow();
    const result = listener(message, channel);
    const handledMs = wallNow() - heardAt;
    counters.handoffMessages.push([heardAt, handledMs, streamsIn(message)]);
    return result;
  };
}

/** How many streams a 'handoff:' message hands over (its "s" list). */
function streamsIn(message: string): number {
  try {
    const { s } = JSON.parse(message.slice('handoff:'.length)) as { s?: unknown };
    return Array.isArray(s) ? s.length : 0;
  } catch {
    return 0;
  }
}

/** Wraps a node-redis client so that every sendCommand is counted, and every hand-off message to `consumerId` is
 * timed, on it and on its duplicates. Alike in v4, v5 and v6: sendCommand(args, options?) returns a promise,
 * duplicate(overrides?) a client, subscribe / pSubscribe take (channels, listener, ...). */
function counted(client: NodeRedis, consumerId: string): NodeRedis {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'subscribe' || property === 'pSubscribe') {
        return (channels: string | string[], listener: MessageListener, ...rest: unknown[]) =>
          (target[property] as (...all: unknown[]) => Promise<void>)(channels, timingHandoffs(listener, consumerId), ...rest);
      }
      if (property === 'sendCommand') {
        return (args: string[], ...rest: unknown[]) => {
          const replied = count(args);
          const reply = (target.sendCommand as (...all: unknown[]) => Promise<unknown>)(args, ...rest);
          if (replied) reply.then(replied, replied);
          return reply;
        };
      }
      if (property === 'duplicate') {
        return (...rest: unknown[]) => counted((target.duplicate as (...all: unknown[]) => NodeRedis)(...rest), consumerId);
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...all: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function send(event: WorkerEvent): void {
  void report(event);
}

/** Collects what the current consumer owns and reports it in batches. */
class Recorder {
  private added: AddedItem[] = [];
  private disowned: Array<[string, number]> = [];
  private released: ReleasedItem[] = [];
  /** report each: the streams owned (a stream handed over and kept, or taken back, is reported again: counted once). */
  private readonly ownedStreams: Set<string> | undefined;
  private owned = 0;
  private total = 0;
  private lastAt = 0;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private errors = 0;
  active = true;
  /** Handler calls so far, when the consumer processes entries. */
  processed: () => number = () => 0;

  constructor(private readonly config: StartConfig) {
    if (config.report === 'each') this.ownedStreams = new Set();
  }

  /** The handler was called: the count goes out with the next report. */
  onProcessed(): void {
    this.changed();
  }

  onAdded(stream: string, recovered: boolean, origin: LeaseOrigin = recovered ? 'takeover' : 'new'): void {
    const at = wallNow();
    this.total++;
    this.lastAt = at;
    if (this.ownedStreams) {
      this.ownedStreams.add(stream);
      this.owned = this.ownedStreams.size;
      this.added.push([stream, at, recovered, origin]);
    } else this.owned++;
    this.changed();
  }

  onDisowned(stream: string): void {
    counters.disowned++;
    this.lose(stream);
    if (this.config.report === 'each') this.disowned.push([stream, wallNow()]);
    this.changed();
  }

  /** The consumer gave the stream up (streamReleased); `endedAt`: when its lease ended, 0 when not timed. */
  onReleased(stream: string, reason: ReleaseReason, endedAt: number): void {
    this.lose(stream);
    if (this.config.report === 'each') this.released.push([stream, wallNow(), reason, endedAt]);
    this.changed();
  }

  onError(error: unknown): void {
    // Errors are expected while a consumer is being stopped or its peers are killed; report the first ones.
    if (!this.active || ++this.errors > 20) return;
    send({ type: 'error', session: this.config.session, message: error instanceof Error ? error.message : String(error) });
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.active || !this.dirty) return;
    this.dirty = false;
    const session = this.config.session;
    if (this.added.length > 0) send({ type: 'added', session, items: this.added });
    if (this.disowned.length > 0) send({ type: 'disowned', session, items: this.disowned });
    if (this.released.length > 0) send({ type: 'released', session, items: this.released });
    this.added = [];
    this.disowned = [];
    this.released = [];
    send({ type: 'count', session, owned: this.owned, added: this.total, lastAt: this.lastAt, processed: this.processed() });
  }

  private lose(stream: string): void {
    if (!this.ownedStreams) this.owned--;
    else if (this.ownedStreams.delete(stream)) this.owned = this.ownedStreams.size;
  }

  private changed(): void {
    this.dirty = true;
    this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }
}

interface Running {
  config: StartConfig;
  recorder: Recorder;
  redis: NodeRedis;
  /** Graceful shutdown handing streams over (ours, restart: keeping them for the next process under the same id). */
  close(restart: boolean): Promise<void>;
  /** Quiet shutdown between runs. */
  stop(): Promise<void>;
  /** Baselines: durations of the upkeep passes since the last call. */
  upkeep?: () => number[];
  /** The handler's record, when the consumer processes entries. */
  entries?: EntryRecorder;
  /** xread: its reading connections. */
  readers?: () => { open: number; failed: number };
}

let running: Running | undefined;

async function start(config: StartConfig): Promise<Started> {
  if (running) await stop();
  counters = emptyCounters();
  const recorder = new Recorder(config);
  const consumerId = config.consumerId ?? `${config.impl}-${process.pid}-${config.session}`;
  // The name goes to every duplicate() too: the library's connections and the baselines' are all named for CLIENT LIST.
  const clientOptions = { url: config.url, name: consumerId, ...(config.impl === 'ours' ? {} : baselineClientOptions(clientMajor)) };
  const redis = counted(createClient(clientOptions), consumerId);
  redis.on('error', (error: unknown) => recorder.onError(error));
  await redis.connect();
  const events: BaselineEvents = {
    onAdded: (stream, recovered) => recorder.onAdded(stream, recovered),
    onDisowned: (stream) => recorder.onDisowned(stream),
    onError: (error) => recorder.onError(error),
  };
  const processing = config.processing;
  const entries = processing ? new EntryRecorder(processing.latencies, processing.journal, () => recorder.onProcessed()) : undefined;
  if (entries) recorder.processed = () => entries.calls;
  if (config.impl === 'ours') {
    setRecording(config.metrics ?? 'on');
    const client = new RedisStreamClient(redis, {
      serviceName: config.serviceName,
      heartbeatMs: config.heartbeatMs,
      autoClaim: config.autoClaim,
      consumerId,
      ...(config.rebalance === undefined ? {} : { rebalance: config.rebalance }),
      ...(config.restartGraceMs === undefined ? {} : { restartGraceMs: config.restartGraceMs }),
    });
    /** leaseEnds: when each lease's signal was aborted, until its release is reported. */
    const ends = new Map<string, number>();
    client.on('streamAdded', (lease) => {
      recorder.onAdded(lease.stream, lease.recovered, lease.origin);
      if (config.leaseEnds) lease.signal.addEventListener('abort', () => ends.set(lease.stream, wallNow()), { once: true });
    });
    client.on('streamReleased', ({ lease, reason }) => {
      recorder.onReleased(lease.stream, reason, ends.get(lease.stream) ?? 0);
      ends.delete(lease.stream);
    });
    client.on('streamDisowned', (lease) => recorder.onDisowned(lease.stream));
    client.on('error', (error) => recorder.onError(error));
    if (!config.autoClaim) {
      client.on('streamExpired', (expired) => {
        counters.expiredEvents++;
        counters.lastExpiredAt = wallNow();
        if (counters.firstExpiredAt === 0) counters.firstExpiredAt = counters.lastExpiredAt;
        counters.claimCalls++;
        client.claim(expired).then(
          (lease) => recorder.onAdded(lease.stream, true, lease.origin),
          (error: unknown) => {
            if (error instanceof AlreadyClaimedError) counters.claimRefused++;
            else recorder.onError(error);
          },
        );
      });
    }
    if (entries) client.run({ eachEntry: entries.handle, ...(processing?.commitIntervalMs ? { commitIntervalMs: processing.commitIntervalMs } : {}) });
    const initAt = wallNow();
    await client.init();
    const unexport = exportMetrics(config.metrics ?? 'on', client);
    const closing = <T>(stopped: Promise<T>): Promise<T> => stopped.finally(unexport);
    running = { config, recorder, redis, close: (restart) => closing(client.close({ restart })), stop: () => closing(client.close()), entries };
    return { consumerId, initAt };
  } else if (config.impl === 'xread') {
    if (!entries) throw new Error('the xread baseline processes entries: start it with `processing`');
    const options = {
      serviceName: config.serviceName,
      heartbeatMs: config.heartbeatMs,
      consumerId,
      maxReaders: processing?.maxReaders,
      rebalance: config.rebalance,
    };
    const consumer = new PerStreamXreadConsumer(redis, options, events, entries.handle);
    const initAt = wallNow();
    await consumer.init();
    const readers = (): { open: number; failed: number } => consumer.connections();
    running = { config, recorder, redis, close: () => consumer.stop(), stop: () => consumer.stop(), entries, readers };
    return { consumerId, initAt };
  }
  const options = { serviceName: config.serviceName, heartbeatMs: config.heartbeatMs, consumerId };
  const database = Number(/\bdb=(\d+)/.exec(String(await redis.sendCommand(['CLIENT', 'INFO'])))?.[1] ?? 0);
  const consumer =
    config.impl === 'locks' ? new PerStreamLocksConsumer(redis, options, events) : new PollingConsumer(redis, options, events);
  const initAt = wallNow();
  if (consumer instanceof PerStreamLocksConsumer) await consumer.init(database);
  else await consumer.init();
  running = { config, recorder, redis, close: () => consumer.stop(), stop: () => consumer.stop(), upkeep: () => consumer.tickDurations() };
  return { consumerId, initAt };
}

async function stop(): Promise<void> {
  const current = running;
  running = undefined;
  if (!current) return;
  current.recorder.active = false;
  await withTimeout(current.stop(), 10_000).catch(() => undefined);
  current.entries?.close();
  await current.redis.disconnect().catch(() => undefined);
}

async function close(restart: boolean): Promise<{ startedAt: number; endedAt: number }> {
  const current = running;
  if (!current) throw new Error('nothing to close');
  current.recorder.flush();
  const startedAt = wallNow();
  await current.close(restart);
  // What the consumer reported while closing (its releases) goes out before the reply.
  current.recorder.flush();
  const endedAt = wallNow();
  current.recorder.active = false;
  running = undefined;
  current.entries?.close();
  await current.redis.disconnect().catch(() => undefined);
  return { startedAt, endedAt };
}

async function memory(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage();
}

function processed(reset: boolean): ProcessedSnapshot {
  running?.recorder.flush();
  const snapshot = running?.entries?.snapshot(reset) ?? { count: 0, firstAt: 0, lastAt: 0, latencies: [] };
  const readers = running?.readers?.() ?? { open: 0, failed: 0 };
  return { ...snapshot, readersOpen: readers.open, readersFailed: readers.failed };
}

/** Produces on a connection of its own, apart from any consumer of this process. */
async function produce(request: ProduceRequest): Promise<ProduceResult> {
  const producer = createClient({ url: request.url, name: `producer-${process.pid}` });
  producer.on('error', () => undefined);
  await producer.connect();
  try {
    return await producePaced(producer, request.streams, request.rate, request.durationMs);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
  ]);
}

async function handle(request: Request, replying: Replying): Promise<unknown> {
  switch (request.type) {
    case 'start':
      return start(request.config);
    case 'close':
      return close(request.restart ?? false);
    case 'stop':
      return stop();
    case 'memory':
      return memory();
    case 'counters': {
      running?.recorder.flush();
      const snapshot = { ...counters, upkeepMs: running?.upkeep?.() ?? [] };
      if (request.reset) counters = emptyCounters();
      return snapshot;
    }
    case 'processed':
      return processed(request.reset);
    case 'produce':
      return produce(request.request);
    case 'exit':
      await stop();
      replying.afterReply(() => process.exit(0));
      return undefined;
  }
}

// Also ends this worker when the bench process goes away: nothing would stop it otherwise.
serveRequests<Request>(handle);
send({ type: 'up' });
