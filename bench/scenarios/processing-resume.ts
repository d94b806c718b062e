/**
 * Resume after SIGKILL: a consumer owning every stream processes a steady flow of entries among idle survivors and
 * is killed; the flow goes on. From the kill, how long until a survivor starts the first entry of each of the
 * victim's streams, and which entries were processed twice, against the documented bound: the entries the victim
 * had processed (started) after its last committed position when it died.
 *
 * Every consumer journals each handler start to a file, synchronously, so that the victim's record survives its
 * SIGKILL; the committed positions are read just after the kill.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { keysFor } from '../../lib/index.js';
import { compareIds } from '../../lib/processing/stream-id.js';
import { checkpointKey } from '../baselines/per-stream-xread.js';
import type { NodeRedis } from '../baselines/common.js';
import { cleanup, newService, streamNames } from '../lib/harness.js';
import { wallNow } from '../lib/protocol.js';
import { ascending, fmt, sleep, summarize } from '../lib/util.js';
import type { Context } from './context.js';
import { assign, awaitOwned, awaitProcessed, readingName, startFleet, type Reading } from './processing-fleet.js';

export interface ResumeParams {
  streams: number;
  survivors: number;
  heartbeatMs: number;
  commitIntervalMs: number;
  /** Entries/s offered over all streams, from before the kill until well after it. */
  rate: number;
  /** Production before the kill (plus a random part of a heartbeat), and after it. */
  beforeKillMs: number;
  afterKillMs: number;
}

export interface ResumeRun extends ResumeParams {
  reading: Reading;
  /** When the victim's session expired, ms after the kill (null when unknown). */
  expiryAfterKillMs: number | null;
  /** Per victim stream: kill -> owned again by a survivor, and kill -> first entry started by a survivor (ms,
   * ascending); streams with no start by a survivor. */
  ownedAgain: number[];
  firstStarted: number[];
  /** Per victim stream resumed: owned again -> first entry started by the same survivor's processing (ms, ascending). */
  ownedToStarted: number[];
  notResumed: number;
  produced: number;
  /** Entries started more than once in all (count beyond the first), the most on one stream, and those outside
   * the bound. */
  duplicates: number;
  maxDuplicatesPerStream: number;
  beyondBound: number;
  /** Entries the victim started after its committed position at the kill (the bound), the most on one stream. */
  bound: number;
  maxBoundPerStream: number;
  /** Entries written and never started. */
  lost: number;
  /** Per survivor, from its script calls (sent -> reply, timed in its process), ms after the kill: its last claim.lua
   * reply (streams owned again), and its first open-positions.lua call sent and last reply (taken-over streams'
   * positions loaded; then each stream's XINFO, the subscription, the first read). */
  phases: Array<{ claimed: number; openSent: number; opened: number }>;
  errors: string[];
}

interface Start {
  at: number;
  survivor: boolean;
}

export async function runResume(context: Context, reading: Reading, params: ResumeParams): Promise<ResumeRun> {
  const redis = context.bench.redis;
  const service = newService('pr');
  const names = streamNames(service, params.streams);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-resume-'));
  const workers = await context.pool.acquire(params.survivors + 2);
  const victim = workers[0]!;
  const producer = workers[1]!;
  const survivors = workers.slice(2);
  const fleet = { reading, serviceName: service, heartbeatMs: params.heartbeatMs };
  const journal = (name: string): string => path.join(dir, `${name}.log`);
  try {
    await startFleet(context, [victim], { ...fleet, report: 'count', processing: { latencies: false, commitIntervalMs: params.commitIntervalMs, journal: journal('victim') } });
    await assign(redis, service, names);
    if (!(await awaitOwned([victim], params.streams, 60_000))) throw new Error(`the victim owns ${victim.owned} of ${params.streams} streams`);
    await sleep(params.heartbeatMs);
    await Promise.all(
      survivors.map((worker, i) =>
        startFleet(context, [worker], { ...fleet, report: 'each', processing: { latencies: false, commitIntervalMs: params.commitIntervalMs, journal: journal(`survivor-${i}`) } }),
      ),
    );
    await Promise.all(survivors.map((worker) => worker.counters(true)));
    const beforeKillMs = params.beforeKillMs + Math.random() * params.heartbeatMs;
    const production = producer.produce({ url: context.bench.url, streams: names, rate: params.rate, durationMs: beforeKillMs + params.afterKillMs });
    await sleep(beforeKillMs);
    const killAt = wallNow();
    victim.kill();
    const expiry = await redis.sendCommand(['ZSCORE', keysFor(service).consumers, victim.consumerId]).catch(() => null);
    // A commit the victim sent before it died is run by Redis all the same: read the positions once it would have.
    await sleep(100);
    const committed = await committedPositions(redis, reading, service, names);
    const produced = (await production).sent;
    await victim.exited;
    // The survivors go on after each committed position: every entry written after it is theirs to process.
    const written = await writtenIds(redis, names);
    let owed = 0;
    for (const [stream, ids] of written) {
      const position = committed.get(stream);
      owed += position === undefined ? ids.length : ids.filter((id) => compareIds(id, position) > 0).length;
    }
    await awaitProcessed(survivors, owed, 60_000, 10_000);
    const phases = (await Promise.all(survivors.map((worker) => worker.counters()))).flatMap((counters) => {
      const claimed = counters.scripts.claim?.lastAt;
      const opens = counters.log.filter(([name]) => name === 'open-positions');
      if (claimed === undefined || opens.length === 0) return [];
      return [
        {
          claimed: claimed - killAt,
          openSent: Math.min(...opens.map(([, sentAt]) => sentAt)) - killAt,
          opened: Math.max(...opens.map(([, sentAt, ms]) => sentAt + ms)) - killAt,
        },
      ];
    });

    const starts = new Map<string, Map<string, Start[]>>();
    const record = (text: string, survivor: boolean): void => {
      for (const line of text.split('\n')) {
        if (!line) continue;
        const [stream, id, at] = line.split(' ') as [string, string, string];
        let ids = starts.get(stream);
        if (!ids) starts.set(stream, (ids = new Map()));
        let list = ids.get(id);
        if (!list) ids.set(id, (list = []));
        list.push({ at: Number(at), survivor });
      }
    };
    record(await readFile(journal('victim'), 'utf8'), false);
    for (let i = 0; i < survivors.length; i++) record(await readFile(journal(`survivor-${i}`), 'utf8').catch(() => ''), true);

    const ownedAt = new Map<string, number>();
    for (const worker of survivors) for (const [stream, at] of worker.added) ownedAt.set(stream, Math.min(at, ownedAt.get(stream) ?? Number.POSITIVE_INFINITY));
    let duplicates = 0;
    let maxDuplicatesPerStream = 0;
    let beyondBound = 0;
    let bound = 0;
    let maxBoundPerStream = 0;
    let lost = 0;
    const firstStarted: number[] = [];
    const ownedToStarted: number[] = [];
    for (const stream of names) {
      const ids = starts.get(stream) ?? new Map<string, Start[]>();
      const position = committed.get(stream);
      let streamDuplicates = 0;
      let streamBound = 0;
      let first = Number.POSITIVE_INFINITY;
      for (const [id, list] of ids) {
        const afterCommit = position === undefined || compareIds(id, position) > 0;
        const byVictim = list.some((start) => !start.survivor);
        if (byVictim && afterCommit) streamBound++;
        if (list.length > 1) {
          streamDuplicates += list.length - 1;
          if (!(byVictim && afterCommit)) beyondBound += list.length - 1;
        }
        for (const start of list) if (start.survivor) first = Math.min(first, start.at);
      }
      for (const id of written.get(stream) ?? []) if (!ids.has(id)) lost++;
      duplicates += streamDuplicates;
      maxDuplicatesPerStream = Math.max(maxDuplicatesPerStream, streamDuplicates);
      bound += streamBound;
      maxBoundPerStream = Math.max(maxBoundPerStream, streamBound);
      if (Number.isFinite(first)) firstStarted.push(first - killAt);
      const owned = ownedAt.get(stream);
      if (Number.isFinite(first) && owned !== undefined) ownedToStarted.push(first - owned);
    }
    const run: ResumeRun = {
      ...params,
      reading,
      expiryAfterKillMs: expiry === null ? null : Number(expiry) - killAt,
      ownedAgain: ascending([...ownedAt.values()].map((at) => at - killAt)),
      firstStarted: ascending(firstStarted),
      ownedToStarted: ascending(ownedToStarted),
      notResumed: params.streams - firstStarted.length,
      produced,
      duplicates,
      maxDuplicatesPerStream,
      beyondBound,
      bound,
      maxBoundPerStream,
      lost,
      phases,
      errors: survivors.flatMap((worker) => worker.errors),
    };
    const s = summarize(run.firstStarted);
    context.log(
      `processing resume: ${readingName(reading)}: first entry after the kill p50 ${fmt(s.p50)} p99 ${fmt(s.p99)} max ${fmt(s.max)} ms ` +
        `(${fmt(run.notResumed)} streams not resumed); processed twice ${fmt(duplicates)} (bound ${fmt(bound)}, beyond it ${fmt(beyondBound)}), lost ${fmt(lost)}`,
    );
    return run;
  } finally {
    await context.pool.release(workers);
    await cleanup(redis, service);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The stored position of each stream: ours, the positions hash; xread, each stream's checkpoint hash. */
async function committedPositions(redis: NodeRedis, reading: Reading, service: string, names: readonly string[]): Promise<Map<string, string>> {
  const positions = new Map<string, string>();
  if (reading === 'ours') {
    const flat = (await redis.sendCommand(['HGETALL', keysFor(service).positions])) as string[];
    for (let i = 0; i + 1 < flat.length; i += 2) positions.set(flat[i]!, flat[i + 1]!);
    return positions;
  }
  const replies = await Promise.all(names.map((stream) => redis.sendCommand(['HGET', checkpointKey(service, stream), 'last'])));
  names.forEach((stream, i) => {
    if (typeof replies[i] === 'string') positions.set(stream, replies[i]);
  });
  return positions;
}

/** Every entry id of each stream. */
async function writtenIds(redis: NodeRedis, names: readonly string[]): Promise<Map<string, string[]>> {
  const replies = (await Promise.all(names.map((stream) => redis.sendCommand(['XRANGE', stream, '-', '+'])))) as Array<Array<[string, unknown]>>;
  return new Map(names.map((stream, i) => [stream, replies[i]!.map(([id]) => id)]));
}
