import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export type OrphanEntry =
  /** The entry names `stream`; `raw` is its `lbs-input`. */
  | { readonly kind: 'expired'; readonly lbsId: string; readonly stream: string; readonly raw: string }
  /** The entry was malformed and went to the dead-letter stream. */
  | { readonly kind: 'dead'; readonly lbsId: string; readonly reason: string };

export type ReadOrphansResult = { readonly alive: true } | { readonly alive: false; readonly entries: OrphanEntry[] };

const reply = z.union([
  z.tuple([z.literal('alive')]),
  z
    .tuple([z.literal('orphaned')])
    .rest(z.union([z.tuple([z.literal('expired'), z.string(), z.string(), z.string()]), z.tuple([z.literal('dead'), z.string(), z.string()])])),
]);

/** read-orphans.lua: the streams that given entries of a dead consumer name, for those still pending under it. */
export async function readOrphans(
  runner: ScriptRunner,
  { keys, options }: ScriptScope,
  request: { readonly previousOwner: string; readonly ids: readonly string[] },
): Promise<ReadOrphansResult> {
  const parsed = reply.parse(
    await runner.run(
      'read-orphans',
      [keys.lbs, sessionKey(keys, request.previousOwner), keys.deadLetter],
      [keys.group, request.previousOwner, options.maxEntryBytes, ...request.ids],
    ),
  );
  if (parsed[0] === 'alive') return { alive: true };
  const [, ...items] = parsed;
  return {
    alive: false,
    entries: items.map((item) =>
      item[0] === 'expired' ? { kind: 'expired', lbsId: item[1], stream: item[2], raw: item[3] } : { kind: 'dead', lbsId: item[1], reason: item[2] },
    ),
  };
}
