import { z } from 'zod';
import { inboxKey, sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** A stream handed over to this consumer: granted (`token`), or offered by `from` (manual mode: to be claimed). */
export type Handed =
  | { readonly kind: 'handoff'; readonly lbsId: string; readonly stream: string; readonly raw: string; readonly token: number; readonly membership: number }
  | { readonly kind: 'offer'; readonly lbsId: string; readonly stream: string; readonly raw: string; readonly from: string; readonly membership: number };

export type AcceptResult = { readonly lost: true } | { readonly lost: false; readonly left: number; readonly handed: Handed[] };

const reply = z.union([
  z.tuple([z.literal('lost')]),
  z.tuple([z.literal('ok'), z.number()]).rest(z.tuple([z.enum(['handoff', 'offer']), z.string(), z.string(), z.string(), z.string(), z.string()])),
]);

/** accept.lua: takes up to `most` items of this consumer's inbox, those still meant for this incarnation. */
export async function accept(runner: ScriptRunner, { keys, consumerId }: ScriptScope, request: { readonly nonce: string; readonly most: number }): Promise<AcceptResult> {
  const parsed = reply.parse(
    await runner.run(
      'accept',
      [keys.lbs, sessionKey(keys, consumerId), inboxKey(keys, consumerId), keys.loads],
      [keys.group, consumerId, request.nonce, request.most],
    ),
  );
  if (parsed[0] === 'lost') return { lost: true };
  const [, left, ...items] = parsed;
  return {
    lost: false,
    left,
    handed: items.map(([kind, lbsId, stream, raw, value, membership]): Handed =>
      kind === 'handoff'
        ? { kind, lbsId, stream, raw, token: Number(value), membership: Number(membership) }
        : { kind, lbsId, stream, raw, from: value, membership: Number(membership) },
    ),
  };
}
