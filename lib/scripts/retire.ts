import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** What retire.lua did: `removed` the consumer (nothing was pending under it); ended the session with entries still
 * pending, the key `expiring` in 1 ms (the caller touches it, so that peers hear of it at once); or nothing, the
 * session being another incarnation's (`not-ours`). */
export type Retired = 'removed' | 'expiring' | 'not-ours';

const OUTCOMES: Record<number, Retired> = { 1: 'removed', 0: 'expiring', [-1]: 'not-ours' };

/** retire.lua: ends this consumer's session for good (done(), close()). */
export async function retire(runner: ScriptRunner, { keys, consumerId }: ScriptScope, nonce: string): Promise<Retired> {
  const code = z
    .number()
    .parse(
      await runner.run(
        'retire',
        [sessionKey(keys, consumerId), keys.consumers, keys.loads, keys.readers, keys.lbs, keys.released, keys.started, keys.ended, keys.members, keys.membership],
        [nonce, consumerId, keys.group],
      ),
    );
  const retired = OUTCOMES[code];
  if (retired === undefined) throw new TypeError(`retire.lua replied ${code}`);
  return retired;
}
