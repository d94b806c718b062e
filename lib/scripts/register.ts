import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export interface RegisterRequest {
  /** Nonce of the new incarnation. */
  readonly nonce: string;
  /** Nonce of the incarnation it replaces: this process's own previous one, or '' for a new process. */
  readonly replaces: string;
}

export type RegisterResult =
  | { readonly registered: true; readonly serverNow: number; readonly previousFailed: boolean }
  | { readonly registered: false; readonly holderLeftMs: number };

const reply = z.union([z.tuple([z.literal(0), z.number()]), z.tuple([z.literal(1), z.number(), z.number()])]);

/** register.lua: starts an incarnation of this consumer, unless another live process holds its id. */
export async function register(runner: ScriptRunner, { keys, consumerId, options }: ScriptScope, request: RegisterRequest): Promise<RegisterResult> {
  const parsed = reply.parse(
    await runner.run(
      'register',
      [sessionKey(keys, consumerId), keys.consumers, keys.lbs, keys.loads, keys.released, keys.started, keys.ended],
      [request.nonce, request.replaces, options.heartbeatMs, consumerId, keys.group, keys.sessionPrefix],
    ),
  );
  if (parsed[0] === 0) return { registered: false, holderLeftMs: parsed[1] };
  return { registered: true, serverNow: parsed[1], previousFailed: parsed[2] === 1 };
}
