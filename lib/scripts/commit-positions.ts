import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** 'committed', or 'stale' when a later owner opened or wrote the stream's position. */
export type CommitOutcome = 'committed' | 'stale';

export type CommitResult = { readonly lost: true } | { readonly lost: false; readonly outcomes: CommitOutcome[] };

const reply = z.union([z.tuple([z.literal('lost')]), z.tuple([z.literal('ok')]).rest(z.enum(['committed', 'stale']))]);

/** commit-positions.lua: stores the positions of streams this consumer owns, each fenced by its lease's token. */
export async function commitPositions(
  runner: ScriptRunner,
  { keys, consumerId }: Pick<ScriptScope, 'keys' | 'consumerId'>,
  request: {
    readonly nonce: string;
    readonly positions: ReadonlyArray<{ readonly stream: string; readonly id: string; readonly token: number }>;
  },
): Promise<CommitResult> {
  const parsed = reply.parse(
    await runner.run(
      'commit-positions',
      [keys.positions, keys.positionTokens, sessionKey(keys, consumerId)],
      [request.nonce, ...request.positions.flatMap(({ stream, id, token }) => [stream, id, token])],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, ...outcomes] = parsed;
  return { lost: false, outcomes };
}
