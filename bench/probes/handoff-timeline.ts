/**
 * Where the time goes when a consumer hands its streams over on close(): a closer in this process owns N streams
 * (autoClaim, no run(), rebalancing off, as in the hand-off scenario); 3 receivers are bench workers (child
 * processes). The closer's close() is timed step by step: the LBS reader stopped, the processing drained and
 * committed, each handoff.lua call (sent, replied, and its time inside Redis from SLOWLOG), the streamReleased events,
 * retire.lua, the connections closed; each receiver's side from its own process: each 'handoff:' message heard (it
 * names the streams handed over: the receiver owns them from it alone, without a call to Redis), how long the library
 * took to own them, the streamAdded events. All times are wall-clock ms after the close() call (same machine).
 *   npx tsx bench/probes/handoff-timeline.ts [--streams=1000] [--runs=3] [--heartbeat=2000]
 * Starts a private redis-server on a free loopback port and stops it at the end. To time the closer's steps the
 * probe wraps methods of the client's parts (private fields): a probe's licence, not an API.
 */
import { createClient } from 'redis';
import { RedisStreamClient } from '../../lib/index.js';
import { killForkedChildren } from '../../spec/support/forked.js';
import { startRedis } from '../../spec/support/redis-server.js';
import { lbsKey, produce, streamNames } from '../lib/harness.js';
import { wallNow } from '../lib/protocol.js';
import { commandName, timeCommands, type TimedCall } from '../lib/timed-commands.js';
import { fmt, percentile, sleep, summarize, table, waitUntil } from '../lib/util.js';
import { Worker } from '../lib/workers.js';

const option = (name: string, fallback: number): number => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const STREAMS = option('streams', 1000);
const RUNS = option('runs', 3);
const HEARTBEAT_MS = option('heartbeat', 2000);
const RECEIVERS = 3;

/** Every command the closer sent: [name, sent, replied] (wall-clock ms). */
const calls: TimedCall[] = [];

/** Steps of the closer: [step, started, ended] (wall-clock ms). */
type Steps = Array<[string, number, number]>;

/** Wraps `object[method]` so that the start and end of its first call are recorded as `step`. */
function timeStep(steps: Steps, step: string, object: Record<string, unknown>, method: string): void {
  const original = object[method] as (...args: unknown[]) => Promise<unknown>;
  let timed = false;
  object[method] = async (...args: unknown[]) => {
    const startedAt = wallNow();
    try {
      return await original.apply(object, args);
    } finally {
      if (!timed) steps.push([step, startedAt, wallNow()]);
      timed = true;
    }
  };
}

/** One run's critical path, ms after the close() call (durations in ms). */
interface Breakdown {
  firstSent: number;
  handoffCalls: number;
  handoffInRedis: number;
  handoffRoundTrips: number;
  lastSent: number;
  lastReply: number;
  firstHeard: number;
  lastHeard: number;
  /** The receivers' time owning the streams of their messages, summed. */
  handled: number;
  lastAdded: number;
  p50: number;
  p99: number;
  closed: number;
}

/** The closer's parts whose steps are timed (private fields of RedisStreamClient). */
interface Parts extends Record<string, unknown> {
  reader: Record<string, unknown>;
  processing: Record<string, unknown>;
  rebalancer: Record<string, unknown>;
  handOver: Record<string, unknown>;
  session: Record<string, unknown>;
}

const server = await startRedis();
const admin = createClient({ url: server.url });
admin.on('error', () => undefined);
const receivers: Worker[] = [];
try {
  await admin.connect();
  // Every command's time inside Redis: script calls are told apart by their sha.
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '10000']);
  for (let i = 0; i < RECEIVERS; i++) receivers.push(await Worker.spawn());
  console.log(`${STREAMS} streams handed over on close() to ${RECEIVERS} receivers (autoClaim, heartbeatMs ${HEARTBEAT_MS}); ms after the close() call`);
  // A first hand-off loads the scripts into the fresh server (EVALSHA fails with NOSCRIPT, EVAL follows): not reported.
  await oneRun(0);
  const runs: Breakdown[] = [];
  for (let run = 1; run <= RUNS; run++) runs.push(await oneRun(run));
  summary(runs);
  await alone();
} finally {
  await Promise.all(receivers.map((worker) => worker.exit()));
  await admin.disconnect().catch(() => undefined);
  killForkedChildren();
  await server.stop();
}

/**
 * The same hand-off with the receivers stopped (SIGSTOP) while the closer hands over, and continued (SIGCONT) once
 * close() returned: each side's script calls then have Redis to themselves, so their Redis time is what the
 * scripts cost, without waiting for a core.
 */
async function alone(): Promise<void> {
  const run = await oneRun(RUNS + 1, true);
  console.log(
    `\nRedis alone (receivers stopped during close()): handoff.lua ${fmt((run.handoffInRedis * 1000) / STREAMS, 1)} µs per stream ` +
      `(${fmt(run.handoffInRedis, 1)} ms in ${run.handoffCalls} calls), the receivers owned them in ${fmt(run.handled, 1)} ms ` +
      `(${fmt((run.handled * 1000) / STREAMS, 1)} µs per stream); close() returned after ${fmt(run.closed, 1)} ms, the last handoff.lua reply after ${fmt(run.lastReply, 1)} ms`,
  );
}

async function oneRun(run: number, receiversStopped = false): Promise<Breakdown> {
  const service = `probe${run}`;
  calls.length = 0;
  await produce(admin, lbsKey('ours', service), streamNames(service, STREAMS));
  const redis = timeCommands(createClient({ url: server.url }), calls, wallNow);
  redis.on('error', () => undefined);
  await redis.connect();
  const closer = new RedisStreamClient(redis, { serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false });
  const released: number[] = [];
  let owned = 0;
  closer.on('streamAdded', () => void owned++);
  closer.on('streamReleased', () => void released.push(wallNow()));
  try {
    await closer.init();
    await waitUntil(() => owned >= STREAMS, 60_000, `the closer to own ${STREAMS} streams`);
    const base = { impl: 'ours' as const, url: server.url, serviceName: service, heartbeatMs: HEARTBEAT_MS, autoClaim: true, rebalance: false };
    await Promise.all(receivers.map((worker) => worker.start({ ...base, report: 'each' })));
    await sleep(300 + Math.random() * (HEARTBEAT_MS / 3));
    await Promise.all(receivers.map((worker) => worker.counters(true)));

    const steps: Steps = [];
    const parts = closer as unknown as Parts;
    timeStep(steps, 'LBS reader stopped', parts.reader, 'stop');
    timeStep(steps, 'processing drained', parts.processing, 'drain');
    timeStep(steps, 'positions committed', parts.processing, 'commit');
    timeStep(steps, 'rebalancing round settled', parts.rebalancer, 'settled');
    timeStep(steps, 'handed over (HandOver.give)', parts.handOver, 'give');
    timeStep(steps, 'session retired', parts.session, 'retire');
    timeStep(steps, 'shut down (connections closed)', parts, 'shutDown');
    await admin.sendCommand(['SLOWLOG', 'RESET']);
    const sentFrom = calls.length;

    if (receiversStopped) for (const worker of receivers) process.kill(worker.pid, 'SIGSTOP');
    const closeAt = wallNow();
    await closer.close();
    const closedAt = wallNow();
    if (receiversStopped) for (const worker of receivers) process.kill(worker.pid, 'SIGCONT');
    const total = (): number => receivers.reduce((sum, worker) => sum + worker.added.length, 0);
    await waitUntil(() => total() >= STREAMS, 10_000, 'the receivers to own every stream');
    const counters = await Promise.all(receivers.map((worker) => worker.counters()));
    const slowlog = (await admin.sendCommand(['SLOWLOG', 'GET', '10000'])) as Array<[number, number, number, string[]]>;
    // SLOWLOG lists the newest first; its durations are µs of the command inside Redis.
    const inRedis = (name: string): number[] => slowlog.filter(([, , , args]) => commandName(args) === name).reverse().map(([, , micros]) => micros / 1000);
    const handoffs = calls.slice(sentFrom).filter(([name]) => name === 'handoff');
    const handoffInRedis = inRedis('handoff');
    const heard = counters.flatMap((c) => c.handoffMessages);
    const ownedAgain = receivers.flatMap((worker) => worker.added.map(([, t]) => t - closeAt));
    const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
    const again = summarize(ownedAgain);
    const breakdown: Breakdown = {
      firstSent: (handoffs[0]?.[1] ?? Number.NaN) - closeAt,
      handoffCalls: handoffs.length,
      handoffInRedis: sum(handoffInRedis),
      handoffRoundTrips: sum(handoffs.map(([, sentAt, repliedAt]) => repliedAt - sentAt)),
      lastSent: (handoffs[handoffs.length - 1]?.[1] ?? Number.NaN) - closeAt,
      lastReply: (handoffs[handoffs.length - 1]?.[2] ?? Number.NaN) - closeAt,
      firstHeard: Math.min(...heard.map(([heardAt]) => heardAt)) - closeAt,
      lastHeard: Math.max(...heard.map(([heardAt]) => heardAt)) - closeAt,
      handled: sum(heard.map(([, ms]) => ms)),
      lastAdded: again.max,
      p50: again.p50,
      p99: again.p99,
      closed: closedAt - closeAt,
    };
    if (run === 0 || receiversStopped) return breakdown;

    const at = (t: number): string => `+${fmt(t - closeAt, 1)}`;
    const line = (what: string, text: string): void => console.log(`    ${what.padEnd(30)} ${text}`);
    console.log(`\nrun ${run}: close() returned ${at(closedAt)}`);
    console.log('  closer:');
    for (const [step, startedAt, endedAt] of steps) line(step, `${at(startedAt)} → ${at(endedAt)} (${fmt(endedAt - startedAt, 1)} ms)`);
    handoffs.forEach(([, sentAt, repliedAt], i) =>
      line('handoff.lua', `${at(sentAt)} → ${at(repliedAt)} (${fmt(repliedAt - sentAt, 1)} ms; in Redis ${fmt(handoffInRedis[i] ?? Number.NaN, 1)} ms)`),
    );
    for (const [, sentAt, repliedAt] of calls.slice(sentFrom).filter(([name]) => name === 'retire')) {
      line('retire.lua', `${at(sentAt)} → ${at(repliedAt)} (${fmt(repliedAt - sentAt, 1)} ms)`);
    }
    if (released.length > 0) line('streamReleased', `${at(Math.min(...released))} .. ${at(Math.max(...released))} (${released.length})`);
    receivers.forEach((worker, i) => {
      const added = worker.added.map(([, t]) => t);
      console.log(`  receiver ${i + 1}: ${added.length} streams`);
      // Each streamAdded follows the last message heard before it: the library owns the streams the message names.
      const messages = counters[i]!.handoffMessages;
      const messageOf = (t: number): number => messages.filter(([heardAt]) => heardAt <= t).length - 1;
      messages.forEach(([heardAt, ms, streams], j) => {
        const mine = added.filter((t) => messageOf(t) === j);
        const span = mine.length > 0 ? `; streamAdded ${at(Math.min(...mine))} .. ${at(Math.max(...mine))} (${mine.length})` : '';
        line("'handoff:' message heard", `${at(heardAt)}, ${streams} streams owned in ${fmt(ms, 1)} ms${span}`);
      });
      // Its script calls meanwhile (its heartbeat; a sweep when the closer's session ends).
      const end = Math.max(closeAt, ...added);
      for (const [name, sentAt, ms] of counters[i]!.log.filter(([, sentAt]) => sentAt >= closeAt && sentAt < end)) {
        line(`${name}.lua`, `${at(sentAt)} → ${at(sentAt + ms)} (${fmt(ms, 1)} ms)`);
      }
    });
    console.log(
      `  handoff.lua in Redis ${fmt(breakdown.handoffInRedis, 1)} ms (${fmt((breakdown.handoffInRedis * 1000) / STREAMS, 1)} µs per stream); ` +
        `the receivers owned the streams in ${fmt(breakdown.handled, 1)} ms over ${heard.length} messages`,
    );
    console.log(`  owned again, per stream: p50 ${fmt(again.p50, 1)} p99 ${fmt(again.p99, 1)} max ${fmt(again.max, 1)} ms`);
    return breakdown;
  } finally {
    await closer.close().catch(() => undefined);
    await Promise.all(receivers.map((worker) => worker.stop()));
    await redis.disconnect().catch(() => undefined);
  }
}

/** The runs side by side, with their medians. */
function summary(runs: readonly Breakdown[]): void {
  const median = (pick: (run: Breakdown) => number): number => percentile([...runs.map(pick)].sort((a, b) => a - b), 0.5);
  const rows: Array<[string, (run: Breakdown) => number]> = [
    ['close() → first handoff.lua sent', (run) => run.firstSent],
    ['handoff.lua calls: in Redis', (run) => run.handoffInRedis],
    ['handoff.lua calls: round trips (sum, overlapping)', (run) => run.handoffRoundTrips],
    ['close() → last handoff.lua sent (all sent at once)', (run) => run.lastSent],
    ['close() → last handoff.lua reply', (run) => run.lastReply],
    ["close() → first 'handoff:' message heard", (run) => run.firstHeard],
    ["close() → last 'handoff:' message heard", (run) => run.lastHeard],
    ['receivers owning the streams (sum)', (run) => run.handled],
    ['close() → owned again, p50', (run) => run.p50],
    ['close() → owned again, p99', (run) => run.p99],
    ['close() → last streamAdded', (run) => run.lastAdded],
    ['close() returned', (run) => run.closed],
  ];
  console.log(`\n${runs[0]?.handoffCalls ?? 0} handoff.lua calls per run; ms, per run and the median:\n`);
  console.log(
    table(
      ['step', ...runs.map((_, i) => `run ${i + 1}`), 'median'],
      rows.map(([what, pick]) => [what, ...runs.map((run) => fmt(pick(run), 1)), fmt(median(pick), 1)]),
    ),
  );
}
