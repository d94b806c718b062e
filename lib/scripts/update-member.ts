import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { MemberRecord } from './register.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** update-member.lua: tells the fleet this consumer's new member record (drain, resume). False when the session is
 * not this incarnation's any more (the next one registers the record). */
export async function updateMember(runner: ScriptRunner, { keys, consumerId }: ScriptScope, nonce: string, member: MemberRecord): Promise<boolean> {
  const updated = z
    .number()
    .parse(await runner.run('update-member', [sessionKey(keys, consumerId), keys.members, keys.membership], [nonce, consumerId, JSON.stringify(member)]));
  return updated === 1;
}
