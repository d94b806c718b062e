import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** retire.lua: removes this consumer from the fleet (done()). Returns false when entries were still pending under
 * it: its session then ends as with release(), and the caller touches the key. */
export async function retire(runner: ScriptRunner, { keys, consumerId }: ScriptScope, nonce: string): Promise<boolean> {
  const retired = z
    .number()
    .parse(
      await runner.run(
        'retire',
        [sessionKey(keys, consumerId), keys.consumers, keys.loads, keys.readers, keys.lbs, keys.released, keys.started, keys.ended, keys.members, keys.membership],
        [nonce, consumerId, keys.group],
      ),
    );
  return retired === 1;
}
