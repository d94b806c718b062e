import { z } from 'zod';
import type { ServiceKeys } from '../keys.js';
import type { ScriptRunner } from './runner.js';

const reply = z.union([z.tuple([z.literal('requeued'), z.string()]), z.tuple([z.literal('not-found')])]);

/** requeue-lbs-entry.lua: adds a dead-lettered LBS entry's fields to the LBS and deletes its record, atomically;
 * the new LBS entry id, or undefined when the record is no longer there. */
export async function requeueLbsEntry(
  runner: ScriptRunner,
  keys: Pick<ServiceKeys, 'deadLetter' | 'lbs'>,
  request: { readonly recordId: string; readonly fields: ReadonlyArray<readonly [string, string]> },
): Promise<string | undefined> {
  const parsed = reply.parse(await runner.run('requeue-lbs-entry', [keys.deadLetter, keys.lbs], [request.recordId, ...request.fields.flat()]));
  return parsed[0] === 'requeued' ? parsed[1] : undefined;
}
