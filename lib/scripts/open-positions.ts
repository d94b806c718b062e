import { z } from 'zod';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** A stream's stored position ('' when none), or 'stale' when a later owner has opened or written it, or the
 * lease's LBS entry is not this consumer's any more. */
export type OpenOutcome = { readonly stale: false; readonly position: string } | { readonly stale: true };

const reply = z.array(z.string());

/** open-positions.lua: fences each stream's position with its new lease's token and returns the stored position. */
export async function openPositions(
  runner: ScriptRunner,
  { keys, consumerId }: Pick<ScriptScope, 'keys' | 'consumerId'>,
  leases: ReadonlyArray<{ readonly stream: string; readonly token: number; readonly lbsId: string }>,
): Promise<OpenOutcome[]> {
  const items = reply.parse(
    await runner.run(
      'open-positions',
      [keys.positions, keys.positionTokens, keys.lbs],
      [keys.group, consumerId, ...leases.flatMap(({ stream, token, lbsId }) => [stream, token, lbsId])],
    ),
  );
  return leases.map((_, i) => (items[2 * i] === 'open' ? { stale: false, position: items[2 * i + 1] ?? '' } : { stale: true }));
}
