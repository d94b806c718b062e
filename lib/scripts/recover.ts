import { z } from 'zod';
import { sessionKey } from '../keys.js';
import { decodeOutcomes, type DecodeReport, type EntryOutcome } from './outcomes.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export interface RecoverRequest {
  readonly nonce: string;
  /** List entries after this id ('-' to start). */
  readonly after: string;
  readonly pageSize: number;
  /** Each entry counts one more delivery: the incarnation that held them failed alone. */
  readonly counts: boolean;
}

export type RecoverResult =
  | { readonly lost: true }
  | { readonly lost: false; readonly outcomes: EntryOutcome[]; /** Where the next page starts; '' when done. */ readonly next: string };

const reply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok'), z.string()]).rest(z.unknown())]);

/** recover.lua: takes back a page of the entries pending under this consumer after it registered an incarnation. */
export async function recover(runner: ScriptRunner, { keys, consumerId, options }: ScriptScope, request: RecoverRequest, report: DecodeReport): Promise<RecoverResult> {
  const parsed = reply.parse(
    await runner.run(
      'recover',
      [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.token, keys.deadLetter, keys.offers],
      [keys.group, consumerId, request.nonce, request.after, request.pageSize, options.maxEntryBytes, options.maxDeliveries, request.counts ? 1 : 0],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, next, ...items] = parsed;
  return { lost: false, next, outcomes: decodeOutcomes(items, report) };
}
