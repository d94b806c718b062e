/** The bench's own Redis: a private redis-server (or REDIS_URL), its statistics, producing and cleaning up. */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { encodeEntry, keysFor } from '../../lib/index.js';
import { startRedis, type RedisServer } from '../../spec/support/redis-server.js';
import { baselineKeys, type NodeRedis } from '../baselines/common.js';
import type { Impl } from './protocol.js';

export interface BenchRedis {
  readonly url: string;
  readonly redis: NodeRedis;
  readonly version: string;
  readonly external: boolean;
  stop(): Promise<void>;
}

/** Starts a private redis-server on a free loopback port, unless REDIS_URL names one. */
export async function openRedis(): Promise<BenchRedis> {
  const externalUrl = process.env.REDIS_URL;
  let server: RedisServer | undefined;
  if (!externalUrl) server = await startRedis();
  const url = externalUrl ?? server!.url;
  const redis = createClient({ url });
  redis.on('error', () => undefined);
  await redis.connect();
  // Expired events for the per-stream-locks baseline (the library sets its own flags the same way): merge, never
  // drop flags someone else set.
  const flags = ((await redis.sendCommand(['CONFIG', 'GET', 'notify-keyspace-events'])) as string[])[1] ?? '';
  let merged = flags;
  if (!merged.includes('K')) merged += 'K';
  if (!/[xA]/.test(merged)) merged += 'x';
  if (merged !== flags) await redis.sendCommand(['CONFIG', 'SET', 'notify-keyspace-events', merged]);
  const info = String(await redis.sendCommand(['INFO', 'server']));
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return {
    url,
    redis,
    version,
    external: externalUrl !== undefined,
    async stop() {
      await redis.disconnect().catch(() => undefined);
      await server?.stop();
    },
  };
}

/** A service name of its own for every run, so runs never see each other's keys. */
export function newService(tag: string): string {
  return `b${tag}-${randomBytes(3).toString('hex')}`;
}

/** Stream names of a service: `<service>-s<n>` (the per-stream-locks baseline subscribes to that prefix). */
export function streamNames(service: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${service}-s${from + i}`);
}

export function lbsKey(impl: Impl, service: string): string {
  return impl === 'ours' ? keysFor(service).lbs : baselineKeys(service).lbs;
}

/** Adds LBS entries with pipelined XADD (chunks in flight at once); returns the entry ids in order. */
export async function produce(redis: NodeRedis, lbs: string, streams: readonly string[], chunk = 10_000): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < streams.length; i += chunk) {
    const replies = await Promise.all(
      streams.slice(i, i + chunk).map((stream) => redis.sendCommand(['XADD', lbs, '*', 'lbs-input', encodeEntry(stream)])),
    );
    ids.push(...replies.map(String));
  }
  return ids;
}

/** Unrelated keys with a 1-hour TTL, as caches and other leases leave in a real database. */
export async function addTtlKeys(redis: NodeRedis, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 10_000) {
    const n = Math.min(10_000, count - i);
    await Promise.all(Array.from({ length: n }, (_, j) => redis.sendCommand(['SET', `${prefix}${i + j}`, 'x', 'PX', '3600000'])));
  }
}

/** Deletes every key matching the patterns (SCAN + UNLINK). */
export async function deleteKeys(redis: NodeRedis, patterns: readonly string[]): Promise<void> {
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = (await redis.sendCommand(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '10000'])) as [string, string[]];
      cursor = next;
      if (keys.length > 0) await redis.sendCommand(['UNLINK', ...keys]);
    } while (cursor !== '0');
  }
}

/** Every key a run of `service` may have left: the library's, the baselines', lock keys. */
export function cleanup(redis: NodeRedis, service: string): Promise<void> {
  return deleteKeys(redis, [`rsc:{${service}}:*`, `bench:{${service}}:*`, `${service}-*`]);
}

export interface RedisStats {
  /** Calls per command (lower case), INFO commandstats: commands run inside scripts count too. */
  calls: Record<string, number>;
  /** used_cpu_sys + used_cpu_user, seconds. */
  cpu: number;
  /** Local monotonic ms when sampled. */
  at: number;
}

export async function sampleStats(redis: NodeRedis): Promise<RedisStats> {
  const [commandstats, cpu] = (await Promise.all([
    redis.sendCommand(['INFO', 'commandstats']),
    redis.sendCommand(['INFO', 'cpu']),
  ])) as [string, string];
  const calls: Record<string, number> = {};
  for (const match of String(commandstats).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(String(cpu))?.[1] ?? 0);
  return { calls, cpu: field('used_cpu_sys') + field('used_cpu_user'), at: performance.now() };
}

export interface StatsDelta {
  seconds: number;
  /** Calls per command between the samples, without the bench's own INFO. */
  calls: Record<string, number>;
  /** All commands Redis ran (script-internal ones included), without INFO. */
  commands: number;
  cpuSeconds: number;
}

export function statsDelta(before: RedisStats, after: RedisStats): StatsDelta {
  const calls: Record<string, number> = {};
  let commands = 0;
  for (const [name, value] of Object.entries(after.calls)) {
    if (name === 'info') continue;
    const delta = value - (before.calls[name] ?? 0);
    if (delta > 0) {
      calls[name] = delta;
      commands += delta;
    }
  }
  return { seconds: (after.at - before.at) / 1000, calls, commands, cpuSeconds: after.cpu - before.cpu };
}
