/**
 * What Redis says about a service's streams: the LBS entries and the stream each names, who each pending entry is
 * pending under, the owners hash, the dead-letter stream and which sessions exist. The chaos invariants compare
 * this with what the consumers reported.
 */
import { keysFor } from '../../lib/index.js';
import type { NodeRedis } from './fleet.js';

export interface ServiceState {
  /** LBS entry id -> the stream it names (undefined when its lbs-input is not a well formed entry). */
  readonly entries: Map<string, string | undefined>;
  /** LBS entry id -> consumer it is pending under, and how many times it was delivered. */
  readonly pending: Map<string, { consumer: string; deliveries: number }>;
  /** owners hash: stream -> LBS entry id. */
  readonly owners: Map<string, string>;
  /** Dead-lettered entries: the LBS entry id they had, the stream they name (if any) and the reason. */
  readonly deadLetters: Array<{ lbsId: string; stream: string | undefined; reason: string }>;
  /** Consumer ids whose session key exists. */
  readonly sessions: Set<string>;
}

/** The stream an `lbs-input` value names, if JSON.parse reads a string DataStreamName in it. */
export function streamOf(lbsInput: string | undefined): string | undefined {
  if (lbsInput === undefined) return undefined;
  try {
    const name = (JSON.parse(lbsInput) as { DataStreamName?: unknown }).DataStreamName;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

export async function readServiceState(redis: NodeRedis, serviceName: string, consumerIds: Iterable<string>): Promise<ServiceState> {
  const keys = keysFor(serviceName);
  const entries = new Map<string, string | undefined>();
  for (const { id, message } of await redis.xRange(keys.lbs, '-', '+')) entries.set(id, streamOf(message['lbs-input']));

  const pending = new Map<string, { consumer: string; deliveries: number }>();
  const groups = await redis.xInfoGroups(keys.lbs).catch(() => []);
  if (groups.some((group) => group.name === keys.group)) {
    const reply = (await redis.sendCommand(['XPENDING', keys.lbs, keys.group, '-', '+', '1000000'])) as Array<[string, string, number, number]>;
    for (const [id, consumer, , deliveries] of reply) pending.set(id, { consumer, deliveries });
  }

  const owners = new Map(Object.entries(await redis.hGetAll(keys.owners)));
  const deadLetters = (await redis.xRange(keys.deadLetter, '-', '+')).map(({ message }) => ({
    lbsId: message['lbs-id'] ?? '',
    stream: streamOf(message['lbs-input']),
    reason: message.reason ?? '',
  }));
  const sessions = new Set<string>();
  for (const id of new Set(consumerIds)) {
    if ((await redis.exists(keys.sessionPrefix + id)) === 1) sessions.add(id);
  }
  return { entries, pending, owners, deadLetters, sessions };
}
