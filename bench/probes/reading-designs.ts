/**
 * The designs considered for reading many streams from one connection, measured side by side on a private Redis:
 * - blocking: one `XREAD BLOCK 0 STREAMS <every key>` at a time, issued again after every reply;
 * - notifications: keyspace notifications for stream writes (flags K and t), one `SUBSCRIBE __keyspace@0__:<key>`
 *   per stream on a subscriber connection, each message waking a non-blocking pipelined `XREAD COUNT 100` of only
 *   the streams written to (256 keys per call), as lib/processing does;
 * - polling: a non-blocking `XREAD COUNT 100` of every stream (256 keys per call, pipelined) every 250 ms.
 * For 1,000 and 10,000 streams: Redis time per read call (INFO commandstats), wake-up latency after one XADD to an
 * idle reader (the XADD sent -> the entry in the reader's hands, same process), latency and Redis CPU under a
 * steady 200 writes/s to random streams, Redis CPU while idle, and what an XADD costs Redis with and without
 * notifications (pipelined, three runs each). Timings are wall-clock inside Redis: on a loaded machine they include
 * time the process was not running, so run it on a quiet one (the load average is printed).
 *   npx tsx bench/probes/reading-designs.ts [--keys=1000,10000] [--seconds=5]
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import os from 'node:os';
import { createClient } from 'redis';
import { startRedis } from '../../spec/support/redis-server.js';
import { fmt, percentile, sleep, table } from '../lib/util.js';

type Redis = ReturnType<typeof createClient>;
type XreadReply = Array<[string, Array<[string, string[]]>]> | null;

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const KEY_COUNTS = (arg('keys') ?? '1000,10000').split(',').map(Number);
const LOAD_SECONDS = Number(arg('seconds') ?? 5);
const LOAD_RATE = 200;
const IDLE_MS = 2000;
const KEYS_PER_READ = 256;
const POLL_MS = 250;
const COST_XADDS = 20_000;

const now = (): number => performance.timeOrigin + performance.now();

const server = await startRedis();
const connect = async (): Promise<Redis> => {
  const client = createClient({ url: server.url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
};
const [admin, writer, reader, subscriber] = await Promise.all([connect(), connect(), connect(), connect()]);

interface Stats {
  xread: { calls: number; usec: number };
  xadd: { calls: number; usec: number };
  cpuMs: number;
  at: number;
}

async function stats(): Promise<Stats> {
  const text = String(await admin.sendCommand(['INFO', 'all']));
  const command = (name: string): { calls: number; usec: number } => {
    const match = new RegExp(`cmdstat_${name}:calls=(\\d+),usec=(\\d+)`).exec(text);
    return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
  };
  const cpu = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? 0);
  return { xread: command('xread'), xadd: command('xadd'), cpuMs: (cpu('used_cpu_sys') + cpu('used_cpu_user')) * 1000, at: performance.now() };
}

interface Window {
  seconds: number;
  readCalls: number;
  readUsec: number;
  xaddCalls: number;
  xaddUsec: number;
  cpuMsPerSecond: number;
}

function windowOf(before: Stats, after: Stats): Window {
  const seconds = (after.at - before.at) / 1000;
  return {
    seconds,
    readCalls: after.xread.calls - before.xread.calls,
    readUsec: after.xread.usec - before.xread.usec,
    xaddCalls: after.xadd.calls - before.xadd.calls,
    xaddUsec: after.xadd.usec - before.xadd.usec,
    cpuMsPerSecond: (after.cpuMs - before.cpuMs) / seconds,
  };
}

/** A reader of the streams: calls `seen` with each entry's send time (field t). */
interface Design {
  start(): Promise<void>;
  stop(): Promise<void>;
}

let seen: (sentAt: number) => void = () => undefined;

function deliver(reply: XreadReply, ids: Map<string, string>): void {
  for (const [key, entries] of reply ?? []) {
    for (const [id, fields] of entries) {
      ids.set(key, id);
      const t = fields.indexOf('t');
      if (t >= 0) seen(Number(fields[t + 1]));
    }
  }
}

function blocking(keys: readonly string[], ids: Map<string, string>): Design {
  let running = false;
  let loop: Promise<void> | undefined;
  let readerId = '';
  return {
    async start() {
      running = true;
      readerId = String(await reader.sendCommand(['CLIENT', 'ID']));
      loop = (async () => {
        while (running) {
          const reply = (await reader.sendCommand(['XREAD', 'BLOCK', '0', 'STREAMS', ...keys, ...keys.map((key) => ids.get(key)!)])) as XreadReply;
          deliver(reply, ids);
        }
      })();
    },
    async stop() {
      running = false;
      await admin.sendCommand(['CLIENT', 'UNBLOCK', readerId]);
      await loop;
    },
  };
}

async function readWoken(keys: readonly string[], ids: Map<string, string>): Promise<void> {
  const calls: Array<Promise<void>> = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_READ) {
    const slice = keys.slice(i, i + KEYS_PER_READ);
    calls.push(
      (reader.sendCommand(['XREAD', 'COUNT', '100', 'STREAMS', ...slice, ...slice.map((key) => ids.get(key)!)]) as Promise<XreadReply>).then((reply) =>
        deliver(reply, ids),
      ),
    );
  }
  await Promise.all(calls);
}

function notified(keys: readonly string[], ids: Map<string, string>): Design {
  const prefix = '__keyspace@0__:';
  const woken = new Set<string>();
  let pumping = false;
  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    while (woken.size > 0) {
      const batch = [...woken];
      woken.clear();
      await readWoken(batch, ids);
    }
    pumping = false;
  };
  const listener = (event: string, channel: string): void => {
    if (event !== 'xadd') return;
    woken.add(channel.slice(prefix.length));
    setImmediate(() => void pump());
  };
  return {
    async start() {
      await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', 'Kt']);
      for (let i = 0; i < keys.length; i += 1000) await subscriber.subscribe(keys.slice(i, i + 1000).map((key) => prefix + key), listener);
    },
    async stop() {
      for (let i = 0; i < keys.length; i += 1000) await subscriber.unsubscribe(keys.slice(i, i + 1000).map((key) => prefix + key));
      await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', '']);
    },
  };
}

function polling(keys: readonly string[], ids: Map<string, string>): Design {
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let round: Promise<void> = Promise.resolve();
  const tick = (): void => {
    const startedAt = performance.now();
    round = readWoken(keys, ids).then(() => {
      if (running) timer = setTimeout(tick, Math.max(0, POLL_MS - (performance.now() - startedAt)));
    });
  };
  return {
    async start() {
      running = true;
      tick();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await round;
    },
  };
}

/** Waits until the reader is blocked in Redis (INFO clients). */
async function blocked(): Promise<void> {
  for (;;) {
    const info = String(await admin.sendCommand(['INFO', 'clients']));
    if (Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? 0) > 0) return;
  }
}

/** One XADD at a time to a random key, each once the reader is ready again; the latency of each. */
async function wakeUps(keys: readonly string[], count: number, waitBlocked: boolean): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    if (waitBlocked) await blocked();
    const arrived = new Promise<number>((resolve) => (seen = (sentAt) => resolve(now() - sentAt)));
    await writer.sendCommand(['XADD', keys[Math.floor(Math.random() * keys.length)]!, '*', 't', String(now())]);
    latencies.push(await arrived);
  }
  return latencies.sort((a, b) => a - b);
}

/** Writes at LOAD_RATE to random keys for LOAD_SECONDS; every entry's latency, and Redis's figures meanwhile. */
async function steadyLoad(keys: readonly string[]): Promise<{ latencies: number[]; window: Window; sent: number }> {
  const latencies: number[] = [];
  seen = (sentAt) => latencies.push(now() - sentAt);
  const before = await stats();
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < LOAD_SECONDS * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * LOAD_RATE) - sent;
    for (let i = 0; i < due; i++) void writer.sendCommand(['XADD', keys[Math.floor(Math.random() * keys.length)]!, '*', 't', String(now())]);
    sent += Math.max(0, due);
    await sleep(2);
  }
  const deadline = performance.now() + 2 * POLL_MS + 5000;
  while (latencies.length < sent && performance.now() < deadline) await sleep(5);
  const window = windowOf(before, await stats());
  return { latencies: latencies.sort((a, b) => a - b), window, sent };
}

async function idleCpu(): Promise<number> {
  const before = await stats();
  await sleep(IDLE_MS);
  return windowOf(before, await stats()).cpuMsPerSecond;
}

/** Redis µs per XADD over COST_XADDS pipelined writes to random keys. */
async function xaddCost(keys: readonly string[]): Promise<number> {
  const before = await stats();
  for (let i = 0; i < COST_XADDS; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, () => writer.sendCommand(['XADD', keys[Math.floor(Math.random() * keys.length)]!, '*', 'n', '1'])));
  }
  const window = windowOf(before, await stats());
  return window.xaddUsec / window.xaddCalls;
}

interface Row {
  design: string;
  keys: number;
  readCallUs: number;
  wake: number[];
  wakeNote: string;
  load: { latencies: number[]; window: Window; sent: number };
  idleCpuMs: number;
}

async function prepare(count: number): Promise<{ keys: string[]; ids: Map<string, string> }> {
  await admin.sendCommand(['FLUSHALL']);
  const keys = Array.from({ length: count }, (_, i) => `stream-${i}`);
  const ids = new Map<string, string>();
  await Promise.all(keys.map(async (key) => ids.set(key, String(await writer.sendCommand(['XADD', key, '*', 'n', '0'])))));
  return { keys, ids };
}

async function measure(design: string, count: number, make: (keys: string[], ids: Map<string, string>) => Design, wake: (keys: string[]) => Promise<number[]>, wakeNote = ''): Promise<Row> {
  const { keys, ids } = await prepare(count);
  const reading = make(keys, ids);
  await reading.start();
  const idleCpuMs = await idleCpu();
  const wakeLatencies = await wake(keys);
  const load = await steadyLoad(keys);
  await reading.stop();
  const readCallUs = load.window.readUsec / Math.max(1, load.window.readCalls);
  console.log(`${design}, ${fmt(count)} keys: wake-up p50 ${fmt(percentile(wakeLatencies, 0.5), 2)} ms; under load p99 ${fmt(percentile(load.latencies, 0.99), 1)} ms`);
  return { design, keys: count, readCallUs, wake: wakeLatencies, wakeNote, load, idleCpuMs };
}

const rows: Row[] = [];
const costs: string[][] = [];
try {
  await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', '']);
  const version = /redis_version:(\S+)/.exec(String(await admin.sendCommand(['INFO', 'server'])))?.[1];
  console.log(
    `Redis ${version}, private server; ${LOAD_RATE} writes/s for ${LOAD_SECONDS} s under load; ${os.availableParallelism()} cores, ` +
      `load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`,
  );
  for (const count of KEY_COUNTS) {
    rows.push(await measure('blocking XREAD of every key', count, blocking, (keys) => wakeUps(keys, count >= 10_000 ? 100 : 300, true)));
    rows.push(await measure('notifications + XREAD of the woken', count, notified, (keys) => wakeUps(keys, 500, false)));
    rows.push(
      await measure('polling every 250 ms', count, polling, async () => [], 'as under load'),
    );
    // What an XADD costs Redis: no notifications, then flags Kt with every key subscribed (messages received, no
    // reads: the publishing alone); three times each, alternating, as the machine's load drifts.
    const { keys } = await prepare(count);
    const plain: number[] = [];
    const announced: number[] = [];
    const prefix = '__keyspace@0__:';
    for (let run = 0; run < 3; run++) {
      plain.push(await xaddCost(keys));
      await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', 'Kt']);
      for (let i = 0; i < keys.length; i += 1000) await subscriber.subscribe(keys.slice(i, i + 1000).map((key) => prefix + key), () => undefined);
      announced.push(await xaddCost(keys));
      for (let i = 0; i < keys.length; i += 1000) await subscriber.unsubscribe(keys.slice(i, i + 1000).map((key) => prefix + key));
      await admin.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', '']);
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[1]!;
    const spread = (values: number[]): string => `${fmt(median(values), 2)} (${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)})`;
    costs.push([fmt(count), spread(plain), spread(announced), fmt(median(announced) - median(plain), 2)]);
  }
} finally {
  await Promise.all([admin, writer, reader, subscriber].map((client) => client.disconnect().catch(() => undefined)));
  await server.stop();
}

const q = (values: readonly number[], p: number, digits = 1): string => fmt(percentile(values, p), digits);
console.log(
  `\n${table(
    [
      'design', 'keys', 'Redis µs per read call', 'wake-up after one XADD p50 / p99 ms', `${LOAD_RATE} writes/s: latency p50 / p99 ms`,
      `${LOAD_RATE} writes/s: read calls/s, Redis read ms/s`, `${LOAD_RATE} writes/s: XADD µs`, 'Redis CPU ms/s idle / under load',
    ],
    rows.map((row) => {
      const w = row.load.window;
      const wake = row.wake.length > 0 ? `${q(row.wake, 0.5, 2)} / ${q(row.wake, 0.99, 2)}` : row.wakeNote;
      return [
        row.design,
        fmt(row.keys),
        fmt(row.readCallUs),
        wake,
        `${q(row.load.latencies, 0.5)} / ${q(row.load.latencies, 0.99)}${row.load.latencies.length < row.load.sent ? ` (${row.load.sent - row.load.latencies.length} not seen)` : ''}`,
        `${fmt(w.readCalls / w.seconds)}, ${fmt(w.readUsec / 1000 / w.seconds, 1)}`,
        fmt(w.xaddUsec / Math.max(1, w.xaddCalls), 2),
        `${fmt(row.idleCpuMs, 1)} / ${fmt(w.cpuMsPerSecond, 1)}`,
      ];
    }),
  )}`,
);
console.log(
  `\nXADD cost (Redis µs per call, ${fmt(COST_XADDS)} pipelined XADDs to random keys; median of 3 runs, range):\n\n${table(
    ['keys', 'no notifications', 'flags Kt, every key SUBSCRIBEd', 'difference of the medians'],
    costs,
  )}`,
);
