import { z } from 'zod';
import { sessionKey } from '../keys.js';
import { decodeOutcomes, type DecodeReport, type EntryOutcome } from './outcomes.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

export interface TakeRequest {
  readonly nonce: string;
  /** Most entries to take, counting an adopted one (0: adopt only). */
  readonly capacity: number;
  /** Take even when above the fair share (the fleet has taken nothing for a while: see HoldBack). */
  readonly force: boolean;
  /** Id of an entry a blocking read already delivered to this consumer, or ''. */
  readonly adopt: string;
}

/** 'more': maybe more entries; 'empty': none left; 'hold': above the fair share; 'lost': the session is gone. */
export type TakeStatus = 'more' | 'empty' | 'hold' | 'lost';

export type TakeResult =
  | { readonly status: Exclude<TakeStatus, 'hold'>; readonly outcomes: EntryOutcome[] }
  | {
      readonly status: 'hold';
      readonly outcomes: EntryOutcome[];
      /** The LBS group's last delivered id: it moves whenever any consumer is delivered a new entry, and only then. */
      readonly progress: string;
    };

const reply = z.union([
  z.tuple([z.literal('hold'), z.string()]).rest(z.unknown()),
  z.tuple([z.enum(['more', 'empty', 'lost'])]).rest(z.unknown()),
]);

/** take.lua: takes new LBS entries for this consumer within its fair share (shares.lua), granting each atomically. */
export async function take(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: TakeRequest,
  report: DecodeReport,
): Promise<TakeResult> {
  const parsed = reply.parse(
    await runner.run(
      'take',
      [keys.lbs, sessionKey(keys, consumerId), keys.loads, keys.members, keys.owners, keys.token, keys.deadLetter],
      [
        keys.group,
        consumerId,
        request.nonce,
        options.maxEntryBytes,
        request.capacity,
        options.rebalanceTolerance,
        request.force ? 1 : 0,
        request.adopt,
        keys.sessionPrefix,
      ],
    ),
  );
  if (parsed[0] === 'hold') {
    const [, progress, ...items] = parsed;
    return { status: 'hold', progress, outcomes: decodeOutcomes(items, report) };
  }
  const [status, ...items] = parsed;
  return { status, outcomes: decodeOutcomes(items, report) };
}
