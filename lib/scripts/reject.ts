import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

const reply = z.enum(['lost', 'rejected', 'not-owner']);

/** reject.lua: moves the LBS entry of a stream this consumer owns to the dead-letter stream, with the reason. */
export async function reject(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly lbsId: string; readonly stream: string; readonly reason: string },
): Promise<'lost' | 'rejected' | 'not-owner'> {
  return reply.parse(
    await runner.run(
      'reject',
      [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.deadLetter, keys.positions, keys.positionTokens],
      [keys.group, consumerId, request.nonce, options.maxEntryBytes, request.lbsId, request.stream, request.reason],
    ),
  );
}
