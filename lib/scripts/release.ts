import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** release.lua: ends this incarnation's session now (close()): its key expires in 1 ms. Returns false when the
 * session was not this incarnation's any more. The caller then touches the key, so that Redis expires it. */
export async function release(runner: ScriptRunner, { keys, consumerId }: ScriptScope, nonce: string): Promise<boolean> {
  const released = z
    .number()
    .parse(await runner.run('release', [sessionKey(keys, consumerId), keys.consumers, keys.readers, keys.released, keys.membership], [nonce, consumerId]));
  return released === 1;
}
