import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** 'done', or 'not-owner' when the entry is not pending under this consumer. */
export type FinishOutcome = 'done' | 'not-owner';

export type FinishResult = { readonly lost: true } | { readonly lost: false; readonly outcomes: FinishOutcome[] };

const reply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.enum(['done', 'not-owner']))]);

/** finish.lua: acknowledges and deletes the LBS entries (and positions) of streams this consumer owns, one outcome per stream. */
export async function finish(
  runner: ScriptRunner,
  { keys, consumerId }: ScriptScope,
  request: { readonly nonce: string; readonly streams: ReadonlyArray<{ readonly lbsId: string; readonly stream: string }> },
): Promise<FinishResult> {
  const parsed = reply.parse(
    await runner.run(
      'finish',
      [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.positions, keys.positionTokens],
      [keys.group, consumerId, request.nonce, ...request.streams.flatMap(({ lbsId, stream }) => [lbsId, stream])],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, ...outcomes] = parsed;
  return { lost: false, outcomes };
}
