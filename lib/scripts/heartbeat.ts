import { z } from 'zod';
import type { EventChannel } from '../keyspace-config.js';
import { inboxKey, sessionKey } from '../keys.js';
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
}

export interface HeartbeatResult {
  /** False when the session key no longer holds this incarnation's nonce. */
  readonly extended: boolean;
  readonly serverNow: number;
  /** The earliest session deadline of any other consumer (server ms), or undefined when there is none. */
  readonly nextPeerDeadline: number | undefined;
  /** The membership counter: it changes with every join, leave, death, drain and resume. */
  readonly membership: number;
  /** Hand-offs waiting in this consumer's inbox. */
  readonly inbox: number;
  /** Streams this consumer should give away now to bring the fleet within its fair shares (everything, draining). */
  readonly excess: number;
  /** Peers whose sessions have ended and who still hold entries. */
  readonly deadPeers: string[];
}

const reply = z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]).rest(z.string());

/** heartbeat.lua: extends this consumer's session and sweeps peers past their deadline. */
export async function heartbeat(runner: ScriptRunner, { keys, consumerId, options }: ScriptScope, request: HeartbeatRequest): Promise<HeartbeatResult> {
  const [extended, serverNow, peerDeadline, membership, inbox, excess, ...deadPeers] = reply.parse(
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
        inboxKey(keys, consumerId),
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
        keys.inboxPrefix,
      ],
    ),
  );
  return {
    extended: extended === 1,
    serverNow,
    nextPeerDeadline: peerDeadline < 0 ? undefined : peerDeadline,
    membership,
    inbox,
    excess,
    deadPeers,
  };
}
