/**
 * The operator's look at and repair of a stream's position (the id of its last processed entry) from outside the
 * fleet. The `rsc position` commands run these.
 */
import { isStreamId } from '../processing/stream-id.js';
import { ScriptRunner } from '../scripts/runner.js';
import { setPosition as setPositionScript } from '../scripts/set-position.js';
import type { ServiceRedis } from './service-redis.js';
import { currentOwner, type StreamOwner } from './stream-owner.js';

export type { StreamOwner } from './stream-owner.js';

export interface PositionInfo {
  readonly stream: string;
  /** The id of its last processed entry; undefined before its first commit (or after it was finished). */
  readonly position: string | undefined;
  /** The fencing token of the last owner that opened or wrote the position: a write with a lower one is refused. */
  readonly token: number | undefined;
  /** The consumer that owns the stream now, if any. */
  readonly owner: StreamOwner | undefined;
}

export type SetPositionOutcome =
  | { readonly stream: string; readonly outcome: 'set'; readonly position: string }
  /** Refused: a consumer owns the stream (`owner`, undefined when it let it go since: try again). */
  | { readonly stream: string; readonly outcome: 'owned'; readonly owner: StreamOwner | undefined };

/** A stream's position, the token that fences it and its current owner. */
export async function getPosition(service: ServiceRedis, stream: string): Promise<PositionInfo> {
  assertStream(stream);
  const { keys } = service;
  const redis = service.at(keys.positions);
  const [position, token, owner] = await Promise.all([
    redis.sendCommand(['HGET', keys.positions, stream]),
    redis.sendCommand(['HGET', keys.positionTokens, stream]),
    currentOwner(service, stream),
  ]);
  return {
    stream,
    position: typeof position === 'string' ? position : undefined,
    token: typeof token === 'string' ? Number(token) : undefined,
    owner,
  };
}

/**
 * Sets a stream's position to `id` (its next owner goes on with the entry after it), only while nobody owns the
 * stream: an owner would overwrite it at its next commit, so that one must call `client.setPosition()` itself, or
 * hand the stream over first. A dead consumer that still holds the stream owns it until a survivor claims it.
 * Rejects with a TypeError when `id` is not a stream id.
 */
export async function setPosition(service: ServiceRedis, stream: string, id: string): Promise<SetPositionOutcome> {
  assertStream(stream);
  if (!isStreamId(id)) throw new TypeError(`Expected \`id\` to be a stream id such as "1700000000000-0", got ${JSON.stringify(id)}`);
  const { keys } = service;
  // No consumer id and no token: set-position.lua allows that only while nobody owns the stream.
  const outcome = await setPositionScript(new ScriptRunner(service.at(keys.lbs)), { keys, consumerId: '' }, { stream, position: id, token: undefined });
  if (outcome === 'set') return { stream, outcome, position: id };
  return { stream, outcome, owner: await currentOwner(service, stream) };
}

function assertStream(stream: string): void {
  if (typeof stream !== 'string' || stream === '') throw new TypeError(`Expected \`stream\` to be a non-empty string, got ${JSON.stringify(stream)}`);
}
