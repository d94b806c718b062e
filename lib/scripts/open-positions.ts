import { z } from 'zod';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** A stream's stored position ('' when none), or 'stale' when a later owner has opened or written it. */
export type OpenOutcome = { readonly stale: false; readonly position: string } | { readonly stale: true };

const reply = z.array(z.string());

/** open-positions.lua: fences each stream's position with its new lease's token and returns the stored position. */
export async function openPositions(
  runner: ScriptRunner,
  { keys }: Pick<ScriptScope, 'keys'>,
  leases: ReadonlyArray<{ readonly stream: string; readonly token: number }>,
): Promise<OpenOutcome[]> {
  const items = reply.parse(
    await runner.run('open-positions', [keys.positions, keys.positionTokens], leases.flatMap(({ stream, token }) => [stream, token])),
  );
  return leases.map((_, i) => (items[2 * i] === 'open' ? { stale: false, position: items[2 * i + 1] ?? '' } : { stale: true }));
}
