import { z } from 'zod';
import type { ScriptRunner } from './runner.js';

const reply = z.union([
  z.tuple([z.enum(['appended', 'recorded']), z.string()]),
  z.tuple([z.literal('not-a-stream'), z.string()]),
]);

export type AppendOutcome =
  | { readonly outcome: 'appended' | 'recorded'; readonly id: string }
  | { readonly outcome: 'not-a-stream'; readonly type: string };

/** append-requeued-entry.lua: appends an entry to its data stream unless `marker` records that it was already
 * ('recorded', with that id); 'not-a-stream' when the key is missing ('none') or holds another type. */
export async function appendRequeuedEntry(
  runner: ScriptRunner,
  request: { readonly marker: string; readonly stream: string; readonly fields: ReadonlyArray<readonly [string, string]> },
): Promise<AppendOutcome> {
  const [outcome, value] = reply.parse(
    await runner.run('append-requeued-entry', [request.marker, request.stream], request.fields.flat()),
  );
  return outcome === 'not-a-stream' ? { outcome, type: value } : { outcome, id: value };
}
