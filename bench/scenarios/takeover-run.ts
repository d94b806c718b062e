/**
 * One takeover: a victim consumer holding `streams` streams is SIGKILLed among `survivors` others; the time from
 * the kill until each of its streams is owned again, by the survivors' own reports. Shared by the takeover
 * latency and claim storm scenarios.
 */
import { keysFor } from '../../lib/index.js';
import { baselineKeys } from '../baselines/common.js';
import { lockKey } from '../baselines/per-stream-locks.js';
import { cleanup, lbsKey, newService, produce, sampleStats, statsDelta, streamNames, type StatsDelta } from '../lib/harness.js';
import { wallNow, type Counters, type Impl } from '../lib/protocol.js';
import { fmt, percentile, sleep, until, waitUntil } from '../lib/util.js';
import type { Worker } from '../lib/workers.js';
import type { Context } from './context.js';

export interface TakeoverParams {
  impl: Impl;
  /** ours: autoClaim (true) or manual claim in the streamExpired handler (false). */
  autoClaim: boolean;
  streams: number;
  survivors: number;
  heartbeatMs: number;
  /** Stop waiting for the takeover this long after the kill. */
  capMs: number;
  /** Sample Redis statistics from just before the kill until the takeover is over. */
  measureRedis: boolean;
  /** ours: the survivors rebalance (the library's default). The victim never does: it must keep the streams it took
   * alone until the kill, which it would hand to the survivors as soon as they joined. */
  rebalancing?: boolean;
}

export interface TakeoverRun {
  impl: Impl;
  mode: 'autoClaim' | 'manual' | 'built-in';
  /** ours: whether the survivors rebalanced (absent in results of runs before the option existed: off). */
  rebalancing?: boolean;
  streams: number;
  survivors: number;
  heartbeatMs: number;
  /** When the victim's session (ours), lock keys (locks) or entries' min-idle (polling) ran out, ms after the kill. */
  expiryAfterKillMs: number | null;
  /** Per stream owned again within the cap: ms after the kill, ascending. */
  latencies: number[];
  /** Streams not owned again within the cap. */
  unowned: number;
  /** Grants beyond the first per stream: a survivor lost a stream it took over and it was granted again. */
  regranted: number;
  /** Streams two survivors reported owning at the same time (added, not yet disowned), and the longest such overlap (ms). */
  overlaps: number;
  longestOverlapMs: number;
  /** streamDisowned events of the survivors (their own sessions lapsed). */
  disowned: number;
  /** Streams each survivor took over. */
  shares: number[];
  /** ours: entries passed to claim.lua (manual: claim() calls); locks: XCLAIM calls; polling: XAUTOCLAIM calls. */
  claimAttempts: number;
  /** ours manual: claim() calls refused with AlreadyClaimedError. */
  claimRefused: number;
  redis: StatsDelta | undefined;
  /** Per survivor: its script calls since just before the kill (timed from send to reply; the first ones logged one by
   * one), and in manual mode its streamExpired span. */
  survivorCounters: Counters[];
  /** ours: per survivor, its takeover's phases (ms after the expiry). */
  phases: Phases[];
  /** Kill to the moment Redis statistics were sampled after the takeover (ms). */
  statsWindowMs: number | undefined;
  errors: string[];
}

export interface Variant {
  impl: Impl;
  autoClaim: boolean;
  /** ours: the survivors rebalance (see TakeoverParams.rebalancing). */
  rebalancing?: boolean;
}

/** The implementations a takeover scenario compares: ours in both modes, and the two baselines. Every consumer runs
 * with rebalancing off, so that the victim keeps its streams until the kill. */
export const VARIANTS: readonly Variant[] = [
  { impl: 'ours', autoClaim: true },
  { impl: 'ours', autoClaim: false },
  { impl: 'locks', autoClaim: true },
  { impl: 'polling', autoClaim: true },
];

/** ours, autoClaim, the survivors rebalancing: does the takeover take longer with rebalancing on? */
export const REBALANCING: Variant = { impl: 'ours', autoClaim: true, rebalancing: true };

/** The --variants key of an implementation. */
export function variantKey({ impl, autoClaim, rebalancing }: Variant): string {
  if (impl !== 'ours') return impl;
  return rebalancing ? 'ours-rebalancing' : autoClaim ? 'ours-auto' : 'ours-manual';
}

export function variantName({ impl, autoClaim, rebalancing }: Variant): string {
  if (impl === 'ours') return autoClaim ? `ours, autoClaim${rebalancing ? ', rebalancing' : ''}` : 'ours, manual claim';
  return impl === 'locks' ? 'per-stream locks' : 'polling (XAUTOCLAIM)';
}

/** The variant a run was made with. */
export function runVariant(run: TakeoverRun): Variant {
  return { impl: run.impl, autoClaim: run.mode !== 'manual', rebalancing: run.rebalancing ?? false };
}

/** How long loading `streams` into one consumer may take. */
function loadTimeoutMs(streams: number): number {
  return 30_000 + streams * 3;
}

export async function runTakeover(context: Context, params: TakeoverParams): Promise<TakeoverRun> {
  const { bench, pool } = context;
  const redis = bench.redis;
  const service = newService('t');
  const names = streamNames(service, params.streams);
  const ids = await produce(redis, lbsKey(params.impl, service), names);
  const base = { url: bench.url, serviceName: service, heartbeatMs: params.heartbeatMs, autoClaim: params.autoClaim, rebalance: false };
  const workers: Worker[] = [];
  try {
    const [victim] = await pool.acquire(1);
    workers.push(victim!);
    const victimId = await victim!.start({ ...base, impl: params.impl, report: 'count' });
    await waitUntil(() => victim!.owned >= params.streams, loadTimeoutMs(params.streams), `the victim to own ${params.streams} streams`);
    // Streams held for a while, as in production: every entry idle for longer than a heartbeat (the per-stream-locks
    // protocol claims with XCLAIM MIN-IDLE = heartbeatMs, which refuses an entry delivered less than that ago).
    await sleep(params.heartbeatMs);
    const survivors = await pool.acquire(params.survivors);
    workers.push(...survivors);
    const rebalance = params.rebalancing ?? false;
    await Promise.all(survivors.map((worker) => worker.start({ ...base, rebalance, impl: params.impl, report: 'each' })));
    // Let the survivors settle, then kill at a random point of the heartbeat cycle.
    await sleep(200 + Math.random() * params.heartbeatMs);
    const before = params.measureRedis ? await sampleStats(redis) : undefined;
    await Promise.all(survivors.map((worker) => worker.counters(true)));

    const killAt = wallNow();
    victim!.kill();
    const expiryAt = await expiryOf(context, params, service, victimId, names[0]!, ids[0]!);

    const isDone = (): boolean => {
      if (survivors.reduce((sum, worker) => sum + worker.added.length, 0) < params.streams) return false;
      return new Set(survivors.flatMap((worker) => worker.added.map(([stream]) => stream))).size >= params.streams;
    };
    await until(isDone, params.capMs, 5);
    let statsWindowMs: number | undefined;
    let delta: StatsDelta | undefined;
    if (before) {
      // Include the work that follows the last claim (the survivors' second pass over what is left).
      await sleep(Math.min(250, params.heartbeatMs / 4) + 300);
      statsWindowMs = wallNow() - killAt;
      delta = statsDelta(before, await sampleStats(redis));
    }
    const counters = await Promise.all(survivors.map((worker) => worker.counters()));
    await victim!.exited;

    const firstOwned = new Map<string, number>();
    let regranted = 0;
    const shares = survivors.map((worker) => {
      let share = 0;
      for (const [stream, at] of worker.added) {
        const known = firstOwned.get(stream);
        if (known === undefined) {
          firstOwned.set(stream, at);
          share++;
        } else {
          regranted++;
          firstOwned.set(stream, Math.min(known, at));
        }
      }
      return share;
    });
    const latencies = [...firstOwned.values()].map((at) => at - killAt).sort((a, b) => a - b);
    let claimAttempts = 0;
    let claimRefused = 0;
    for (const c of counters) {
      claimRefused += c.claimRefused;
      if (params.impl === 'ours') claimAttempts += c.scripts.claim?.entries ?? 0;
      else if (params.impl === 'locks') claimAttempts += c.calls.XCLAIM ?? 0;
      else claimAttempts += c.calls.XAUTOCLAIM ?? 0;
    }
    return {
      impl: params.impl,
      mode: params.impl === 'ours' ? (params.autoClaim ? 'autoClaim' : 'manual') : 'built-in',
      rebalancing: params.rebalancing ?? false,
      streams: params.streams,
      survivors: params.survivors,
      heartbeatMs: params.heartbeatMs,
      expiryAfterKillMs: expiryAt === null ? null : expiryAt - killAt,
      latencies,
      unowned: params.streams - firstOwned.size,
      regranted,
      ...overlapping(survivors),
      disowned: survivors.reduce((sum, worker) => sum + worker.disowned.length, 0),
      shares,
      claimAttempts,
      claimRefused,
      redis: delta,
      statsWindowMs,
      survivorCounters: counters,
      phases: expiryAt === null ? [] : counters.map((c) => phasesOf(c, expiryAt)).filter((p): p is Phases => p !== undefined),
      errors: survivors.flatMap((worker) => worker.errors),
    };
  } finally {
    await pool.release(workers);
    await cleanup(redis, service);
  }
}

/** "detected / listed / claims done" after the expiry: medians over the survivors of the runs given. */
export function phasesText(runs: readonly TakeoverRun[]): string {
  const phases = runs.flatMap((run) => run.phases);
  if (phases.length === 0) return '–';
  const median = (values: number[]): string => fmt(percentile(values.sort((a, b) => a - b), 0.5));
  return `${median(phases.map((p) => p.detected))} / ${median(phases.map((p) => p.listed))} / ${median(phases.map((p) => p.lastClaim))}`;
}

export interface Phases {
  /** First list-orphans.lua / read-orphans.lua call sent: the survivor learned of the death. */
  detected: number;
  /** Reply to the last list-orphans.lua / read-orphans.lua call sent before its first claim: the first page listed
   * (manual mode: and read). */
  listed: number;
  /** First claim.lua call sent, and the reply to its last one. */
  firstClaim: number;
  lastClaim: number;
}

/** A survivor's takeover phases from its call log, in ms after `expiryAt`. */
function phasesOf(counters: Counters, expiryAt: number): Phases | undefined {
  const orphans = counters.log.filter(([name]) => /^(list|read)-orphans$/.test(name));
  const claim = counters.scripts.claim;
  if (orphans.length === 0 || !claim || claim.calls === 0) return undefined;
  const listing = orphans.filter(([, sentAt]) => sentAt < claim.firstAt);
  return {
    detected: Math.min(...orphans.map(([, sentAt]) => sentAt)) - expiryAt,
    listed: (listing.length > 0 ? Math.max(...listing.map(([, sentAt, ms]) => sentAt + ms)) : claim.firstAt) - expiryAt,
    firstClaim: claim.firstAt - expiryAt,
    lastClaim: claim.lastAt - expiryAt,
  };
}

/** Streams that two workers reported owning at the same time, by their added/disowned reports. */
function overlapping(workers: readonly Worker[]): { overlaps: number; longestOverlapMs: number } {
  const intervals = new Map<string, Array<{ worker: number; from: number; to: number }>>();
  workers.forEach((worker, index) => {
    const open = new Map<string, { worker: number; from: number; to: number }>();
    const events = [
      ...worker.added.map(([stream, at]) => ({ stream, at, added: true })),
      ...worker.disowned.map(([stream, at]) => ({ stream, at, added: false })),
    ].sort((a, b) => a.at - b.at);
    for (const { stream, at, added } of events) {
      if (added) {
        const interval = { worker: index, from: at, to: Number.POSITIVE_INFINITY };
        open.set(stream, interval);
        const list = intervals.get(stream) ?? [];
        list.push(interval);
        intervals.set(stream, list);
      } else {
        const interval = open.get(stream);
        if (interval) interval.to = at;
        open.delete(stream);
      }
    }
  });
  let overlaps = 0;
  let longestOverlapMs = 0;
  for (const list of intervals.values()) {
    let clash = 0;
    list.forEach((a, i) =>
      list.forEach((b, j) => {
        if (j > i && a.worker !== b.worker && a.from < b.to && b.from < a.to) {
          clash = Math.max(clash, Math.min(a.to, b.to) - Math.max(a.from, b.from));
        }
      }),
    );
    if (clash > 0) overlaps++;
    longestOverlapMs = Math.max(longestOverlapMs, clash);
  }
  return { overlaps, longestOverlapMs };
}

/** When the victim's hold on its streams ran out, as wall-clock ms (Redis's clock is this machine's). */
async function expiryOf(
  context: Context,
  params: TakeoverParams,
  service: string,
  victimId: string,
  stream: string,
  lbsId: string,
): Promise<number | null> {
  const redis = context.bench.redis;
  try {
    if (params.impl === 'ours') {
      const deadline = await redis.sendCommand(['ZSCORE', keysFor(service).consumers, victimId]);
      return deadline === null ? null : Number(deadline);
    }
    if (params.impl === 'locks') {
      const pttl = Number(await redis.sendCommand(['PTTL', lockKey(stream, lbsId)]));
      return pttl < 0 ? null : wallNow() + pttl;
    }
    const keys = baselineKeys(service);
    const pending = (await redis.sendCommand(['XPENDING', keys.lbs, keys.group, '-', '+', '1', victimId])) as Array<[string, string, number, number]>;
    const idle = pending[0]?.[2];
    return idle === undefined ? null : wallNow() + params.heartbeatMs - Number(idle);
  } catch {
    return null;
  }
}
