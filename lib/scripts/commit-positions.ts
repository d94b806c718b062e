import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** 'committed', or 'stale' when a later owner opened or wrote the stream's position, or the lease's LBS entry is
 * not this consumer's any more. */
export type CommitOutcome = 'committed' | 'stale';

export type CommitResult = { readonly lost: true } | { readonly lost: false; readonly outcomes: CommitOutcome[] };

const reply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.enum(['committed', 'stale']))]);

/** commit-positions.lua: stores the positions of streams this consumer owns, each fenced by its lease's token and
 * by its LBS entry being pending under this consumer. */
export async function commitPositions(
  runner: ScriptRunner,
  { keys, consumerId }: Pick<ScriptScope, 'keys' | 'consumerId'>,
  request: {
    readonly nonce: string;
    readonly positions: ReadonlyArray<{ readonly stream: string; readonly id: string; readonly token: number; readonly lbsId: string }>;
  },
): Promise<CommitResult> {
  const parsed = reply.parse(
    await runner.run(
      'commit-positions',
      [keys.positions, keys.positionTokens, sessionKey(keys, consumerId), keys.lbs],
      [request.nonce, keys.group, consumerId, ...request.positions.flatMap(({ stream, id, token, lbsId }) => [stream, id, token, lbsId])],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, ...outcomes] = parsed;
  return { lost: false, outcomes };
}
