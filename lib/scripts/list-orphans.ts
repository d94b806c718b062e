import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export type ListOrphansResult =
  | { readonly alive: true }
  | {
      readonly alive: false;
      /** Ids of entries pending under the dead consumer, a page of them. */
      readonly ids: string[];
      /** Live consumers, among which the takeover is split. */
      readonly live: string[];
      /** Where the next page starts; '' when done. */
      readonly next: string;
    };

const reply = z.union([z.tuple([z.literal('alive')]), z.tuple([z.literal('orphaned'), z.string(), z.array(z.string())]).rest(z.string())]);

/** list-orphans.lua: once `previousOwner`'s session is gone, a page of the ids of the entries it still holds. */
export async function listOrphans(
  runner: ScriptRunner,
  { keys }: ScriptScope,
  request: { readonly previousOwner: string; readonly after: string; readonly pageSize: number },
): Promise<ListOrphansResult> {
  const parsed = reply.parse(
    await runner.run(
      'list-orphans',
      [keys.lbs, sessionKey(keys, request.previousOwner), keys.consumers],
      [keys.group, request.previousOwner, request.after, request.pageSize, keys.sessionPrefix],
    ),
  );
  if (parsed[0] === 'alive') return { alive: true };
  const [, next, live, ...ids] = parsed;
  return { alive: false, ids, live, next };
}
