import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { MemberRecord } from './register.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** suspend.lua: ends this incarnation keeping its streams reserved for the next process under the same id for
 * `graceMs` (close({ restart: true })). False when the session was not this incarnation's any more. */
export async function suspend(
  runner: ScriptRunner,
  { keys, consumerId }: ScriptScope,
  request: { readonly nonce: string; readonly graceMs: number; readonly member: MemberRecord },
): Promise<boolean> {
  const suspended = z
    .number()
    .parse(
      await runner.run(
        'suspend',
        [sessionKey(keys, consumerId), keys.consumers, keys.members, keys.loads, keys.released],
        [request.nonce, consumerId, request.graceMs, JSON.stringify(request.member)],
      ),
    );
  return suspended === 1;
}
