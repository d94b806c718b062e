/**
 * The node-redis major the specs run against: `RSC_NODE_REDIS=5` or `6` picks the `redis5` or `redis6` dev dependency
 * (npm aliases of redis@5 and redis@6); unset or `4`, the `redis` dev dependency (v4). Specs create their clients
 * here, typed as v4's (the methods they call are named alike in every major); Sentinel clients, which v4 lacks, as
 * v5's.
 */
import { createClient as createClient4, createCluster as createCluster4 } from 'redis';
import { createClient as createClient5, createCluster as createCluster5, createSentinel as createSentinel5 } from 'redis5';
import { createClient as createClient6, createCluster as createCluster6, createSentinel as createSentinel6 } from 'redis6';

export type NodeRedisMajor = 4 | 5 | 6;

function majorFromEnvironment(): NodeRedisMajor {
  const asked = process.env.RSC_NODE_REDIS ?? '4';
  if (asked === '4' || asked === '5' || asked === '6') return Number(asked) as NodeRedisMajor;
  throw new Error(`RSC_NODE_REDIS must be 4, 5 or 6, not ${JSON.stringify(asked)}`);
}

export const nodeRedisMajor: NodeRedisMajor = majorFromEnvironment();

const clients = { 4: createClient4, 5: createClient5, 6: createClient6 } as const;
const clusters = { 4: createCluster4, 5: createCluster5, 6: createCluster6 } as const;

/** A client as users create it: the major's defaults (on v6, RESP3 and a 5 s command timeout). */
export const createClient = clients[nodeRedisMajor] as unknown as typeof createClient4;
export const createCluster = clusters[nodeRedisMajor] as unknown as typeof createCluster4;

/** A client for specs that look at Redis themselves: RESP2 on every major, so that `sendCommand` replies have
 * the same shapes (flat arrays, no maps) wherever the spec reads them. v4 ignores the option. */
export function createInspectingClient(options: Parameters<typeof createClient4>[0] = {}): ReturnType<typeof createClient4> {
  return createClient({ ...options, RESP: 2 } as typeof options);
}

/** Why the Sentinel specs cannot run on this major, or undefined when they can: node-redis v4 has no Sentinel
 * client (`createSentinel` came with v5). */
export const sentinelUnsupported: string | undefined =
  nodeRedisMajor === 4 ? 'node-redis v4 has no Sentinel client (createSentinel came with v5): run with RSC_NODE_REDIS=5 or 6' : undefined;

export type NodeRedisSentinel = ReturnType<typeof createSentinel5>;

/** `createSentinel` of the major picked; throws on v4. */
export function createSentinel(options: Parameters<typeof createSentinel5>[0]): NodeRedisSentinel {
  if (nodeRedisMajor === 4) throw new Error(sentinelUnsupported);
  const create = nodeRedisMajor === 5 ? createSentinel5 : (createSentinel6 as unknown as typeof createSentinel5);
  return create(options);
}
