import { z } from 'zod';
import { PROTOCOL_VERSION, sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export interface RegisterRequest {
  /** Nonce of the new incarnation. */
  readonly nonce: string;
  /** Nonce of the incarnation it replaces: this process's own previous one, or '' for a new process. */
  readonly replaces: string;
  /** What the fleet is told of this consumer. */
  readonly member: MemberRecord;
}

/** What the fleet knows of a consumer (the members hash): how streams are shared with it and handed to it. */
export interface MemberRecord {
  readonly weight: number;
  /** maxStreams, when set. */
  readonly max?: number;
  /** Whether it claims what it is handed (autoClaim), rather than being offered it (manual mode). */
  readonly auto: boolean;
  readonly draining: boolean;
}

export type RegisterResult =
  | { readonly registered: true; readonly serverNow: number; readonly previousFailed: boolean }
  | { readonly registered: false; readonly holderLeftMs: number }
  /** The service runs a later protocol version than this consumer understands. */
  | { readonly registered: false; readonly protocol: number };

const reply = z.union([
  z.tuple([z.literal(0), z.number()]),
  z.tuple([z.literal(1), z.number(), z.number()]),
  z.tuple([z.literal(2), z.number()]),
]);

/** register.lua: starts an incarnation of this consumer, unless another live process holds its id. */
export async function register(runner: ScriptRunner, { keys, consumerId, options }: ScriptScope, request: RegisterRequest): Promise<RegisterResult> {
  const parsed = reply.parse(
    await runner.run(
      'register',
      [
        sessionKey(keys, consumerId),
        keys.consumers,
        keys.lbs,
        keys.loads,
        keys.released,
        keys.started,
        keys.ended,
        keys.protocol,
        keys.members,
        keys.membership,
      ],
      [
        request.nonce,
        request.replaces,
        options.heartbeatMs,
        consumerId,
        keys.group,
        keys.sessionPrefix,
        PROTOCOL_VERSION,
        JSON.stringify(request.member),
      ],
    ),
  );
  if (parsed[0] === 0) return { registered: false, holderLeftMs: parsed[1] };
  if (parsed[0] === 2) return { registered: false, protocol: parsed[1] };
  return { registered: true, serverNow: parsed[1], previousFailed: parsed[2] === 1 };
}
