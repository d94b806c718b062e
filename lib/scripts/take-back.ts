import { z } from 'zod';
import { sessionKey } from '../keys.js';
import { decodeOutcomes, type DecodeReport, type EntryOutcome } from './outcomes.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export type TakeBackResult = { readonly lost: true } | { readonly lost: false; readonly outcomes: EntryOutcome[] };

const reply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.unknown())]);

/** take-back.lua: takes back the given entries pending under this consumer that it holds no lease for. */
export async function takeBack(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly ids: readonly string[] },
  report: DecodeReport,
): Promise<TakeBackResult> {
  const parsed = reply.parse(
    await runner.run(
      'take-back',
      [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.token, keys.deadLetter, keys.offers],
      [keys.group, consumerId, request.nonce, options.maxEntryBytes, ...request.ids],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, ...items] = parsed;
  return { lost: false, outcomes: decodeOutcomes(items, report) };
}
