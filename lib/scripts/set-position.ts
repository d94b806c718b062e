import { z } from 'zod';
import type { ScriptRunner, ScriptScope } from './runner.js';

const reply = z.enum(['set', 'owned']);

/** set-position.lua: sets a stream's position; 'owned' when another consumer owns it (or `token` is out of date). */
export async function setPosition(
  runner: ScriptRunner,
  { keys, consumerId }: Pick<ScriptScope, 'keys' | 'consumerId'>,
  request: { readonly stream: string; readonly position: string; readonly token: number | undefined },
): Promise<'set' | 'owned'> {
  return reply.parse(
    await runner.run(
      'set-position',
      [keys.positions, keys.positionTokens, keys.owners, keys.lbs],
      [keys.group, request.stream, request.position, consumerId, request.token ?? ''],
    ),
  );
}
