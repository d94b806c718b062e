/**
 * Where the time goes when a consumer resumes a dead peer's streams under run(): a victim (a bench worker, child
 * process) owns N streams and has processed their entries; one survivor runs in this process with every command
 * its connections send timed by name; the victim is SIGKILLed, new entries are written, and the survivor's
 * timeline after the kill is printed: listing and claiming, streamAdded, the positions (open-positions.lua), the
 * XINFO STREAM per stream, the first XREADs, the first entries started. One survivor alone: what the path costs
 * without other processes competing for the cores.
 *   npx tsx bench/probes/resume-timeline.ts [--streams=1000]
 * Starts a private redis-server on a free loopback port and stops it at the end.
 */
import { createClient } from 'redis';
import { RedisStreamClient } from '../../lib/index.js';
import { killForkedChildren } from '../../spec/support/forked.js';
import { startRedis } from '../../spec/support/redis-server.js';
import type { NodeRedis } from '../baselines/common.js';
import { timeCommands, type TimedCall } from '../lib/timed-commands.js';
import { sleep } from '../lib/util.js';
import { Worker } from '../lib/workers.js';
import { assign, fill } from '../scenarios/processing-fleet.js';

const STREAMS = Number(process.argv.find((a) => a.startsWith('--streams='))?.split('=')[1] ?? 1000);
const SERVICE = 'probe';
/** Every command sent: [name, sent, replied] (performance.now()). */
const calls: TimedCall[] = [];

const server = await startRedis();
const admin = createClient({ url: server.url });
admin.on('error', () => undefined);
let survivor: RedisStreamClient | undefined;
let redis: NodeRedis | undefined;
try {
  await admin.connect();
  const streams = Array.from({ length: STREAMS }, (_, i) => `${SERVICE}-s${i}`);
  await fill(admin, streams, 3);
  const victim = await Worker.spawn();
  // Rebalancing off: the victim keeps its streams when the survivor joins, until the kill.
  await victim.start({
    impl: 'ours',
    url: server.url,
    serviceName: SERVICE,
    heartbeatMs: 1000,
    autoClaim: true,
    rebalance: false,
    report: 'count',
    processing: { latencies: false },
  });
  await assign(admin, SERVICE, streams);
  while (victim.processed < streams.length * 3) await sleep(10);

  redis = timeCommands(createClient({ url: server.url }), calls, () => performance.now());
  redis.on('error', () => undefined);
  await redis.connect();
  survivor = new RedisStreamClient(redis, { serviceName: SERVICE, heartbeatMs: 1000, autoClaim: true });
  const added: number[] = [];
  const first = new Map<string, number>();
  survivor.on('streamAdded', () => void added.push(performance.now()));
  survivor.run({ eachEntry: (entry) => void (first.has(entry.stream) || first.set(entry.stream, performance.now())) });
  await survivor.init();
  await sleep(500);
  await fill(admin, streams, 1); // processed by the victim and committed
  await sleep(300);

  const killAt = performance.now();
  victim.kill();
  await sleep(100);
  await fill(admin, streams, 1); // written after the kill: the survivor's to process
  while (first.size < streams.length && performance.now() - killAt < 10_000) await sleep(5);

  const at = (t: number): string => `+${(t - killAt).toFixed(0)} ms`;
  console.log(`${STREAMS} streams, heartbeatMs 1000; times after the SIGKILL (one survivor, this process):`);
  for (const name of ['list-orphans', 'claim', 'open-positions', 'XINFO', 'XREAD']) {
    const mine = calls.filter(([call, sentAt]) => call === name && sentAt > killAt);
    if (mine.length === 0) {
      console.log(`  ${name}: none timed`);
      continue;
    }
    const lastReply = Math.max(...mine.map(([, , repliedAt]) => repliedAt));
    console.log(`  ${name}: ${mine.length} call(s), first sent ${at(mine[0]![1])}, last reply ${at(lastReply)}`);
  }
  if (added.length > 0) console.log(`  streamAdded: ${at(Math.min(...added))} .. ${at(Math.max(...added))}`);
  const starts = [...first.values()];
  if (starts.length > 0) console.log(`  first entry started: ${at(Math.min(...starts))} .. ${at(Math.max(...starts))} (${starts.length} streams)`);
  console.log("  (the SUBSCRIBE of the streams' channels, between the XINFOs and the first XREAD, goes through node-redis's pub/sub path: not timed)");
  await victim.exit();
} finally {
  await survivor?.close().catch(() => undefined);
  await redis?.disconnect().catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
  killForkedChildren();
  await server.stop();
}
