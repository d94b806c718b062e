import { z } from 'zod';
import type { EventChannel } from '../keyspace-config.js';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export interface HeartbeatRequest {
  readonly nonce: string;
  /** How long to wait before reporting a dead peer's unclaimed streams again (ms). */
  readonly recheckMs: number;
  /** Most overdue peers to inspect in one call. */
  readonly sweepLimit: number;
  /** Where the consumers hear of a session's end: dead peers are announced there ('' for nowhere). */
  readonly announceOn: EventChannel | '';
  readonly database: number;
  /** The membership counter when the excess was last computed (skip computing it while it has not changed), or
   * undefined to have it computed now. */
  readonly sharesSeenAt: number | undefined;
}

export interface HeartbeatResult {
  /** False when the session key no longer holds this incarnation's nonce. */
  readonly extended: boolean;
  readonly serverNow: number;
  /** The earliest session deadline of any other consumer (server ms), or undefined when there is none. */
  readonly nextPeerDeadline: number | undefined;
  /** The membership counter: it changes with every join, leave, death, drain and resume. */
  readonly membership: number;
  /** Streams this consumer should give away now to bring the fleet within its fair shares (everything, draining);
   * undefined when not computed (the membership counter had not changed). */
  readonly excess: number | undefined;
  /** Peers whose sessions have ended and who still hold entries. */
  readonly deadPeers: string[];
}

const reply = z.tuple([z.number(), z.number(), z.number(), z.number(), z.number()]).rest(z.string());

/** heartbeat.lua: extends this consumer's session and sweeps peers past their deadline. */
export async function heartbeat(runner: ScriptRunner, { keys, consumerId, options }: ScriptScope, request: HeartbeatRequest): Promise<HeartbeatResult> {
  const [extended, serverNow, peerDeadline, membership, excess, ...deadPeers] = reply.parse(
    await runner.run(
      'heartbeat',
      [
        sessionKey(keys, consumerId),
        keys.consumers,
        keys.lbs,
        keys.loads,
        keys.readers,
        keys.released,
        keys.started,
        keys.ended,
        keys.members,
        keys.membership,
      ],
      [
        request.nonce,
        options.heartbeatMs,
        consumerId,
        keys.sessionPrefix,
        keys.group,
        request.recheckMs,
        request.sweepLimit,
        request.announceOn,
        request.database,
        options.rebalanceTolerance,
        request.sharesSeenAt ?? '',
      ],
    ),
  );
  return {
    extended: extended === 1,
    serverNow,
    nextPeerDeadline: peerDeadline < 0 ? undefined : peerDeadline,
    membership,
    excess: excess < 0 ? undefined : excess,
    deadPeers,
  };
}
