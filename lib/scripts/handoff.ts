import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** What became of one stream: handed `to` a consumer, `kept` under a new token (nobody could be handed it), or
 * `not-owner` (this consumer did not own it through that entry). */
export type HandoffOutcome = { readonly to: string } | { readonly kept: number } | 'not-owner';

export type HandoffResult =
  | { readonly lost: true }
  | { readonly lost: false; readonly room: number; readonly outcomes: HandoffOutcome[] };

const reply = z.union([
  z.tuple([z.literal('lost')]),
  z
    .tuple([z.literal('ok'), z.number()])
    .rest(z.union([z.tuple([z.literal('to'), z.string()]), z.tuple([z.literal('kept'), z.string()]), z.literal('not-owner')])),
]);

/** handoff.lua: hands the given streams to the consumers furthest below their fair share. With no streams, tells
 * how many the others could be handed. */
export async function handoff(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly database: number; readonly streams: ReadonlyArray<{ lbsId: string; stream: string }> },
): Promise<HandoffResult> {
  const parsed = reply.parse(
    await runner.run(
      'handoff',
      [keys.lbs, sessionKey(keys, consumerId), keys.owners, keys.loads, keys.members, keys.token, keys.offers, keys.membership],
      [
        keys.group,
        consumerId,
        request.nonce,
        options.rebalanceTolerance,
        keys.sessionPrefix,
        keys.inboxPrefix,
        request.database,
        ...request.streams.flatMap(({ lbsId, stream }) => [lbsId, stream]),
      ],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, room, ...items] = parsed;
  return {
    lost: false,
    room,
    outcomes: items.map((item): HandoffOutcome => {
      if (typeof item === 'string') return item;
      return item[0] === 'to' ? { to: item[1] } : { kept: Number(item[1]) };
    }),
  };
}
