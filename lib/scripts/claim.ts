import { z } from 'zod';
import type { ClaimRefusal } from '../errors.js';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** An entry to claim: `stream` is the name the claimer expects, or '' for whatever the entry names; `known` when
 * this consumer reported the entry itself, so that it need not be read back. */
export interface ClaimEntry {
  readonly lbsId: string;
  readonly stream: string;
  readonly known: boolean;
}

/** What happened to one entry: granted (token, the entry's stream, its raw `lbs-input` ('' when the entry was known)
 * and whether it was offered by a live owner), or why not. */
export type ClaimOutcome =
  | { readonly token: number; readonly stream: string; readonly raw: string; readonly origin: 'takeover' | 'handoff' }
  | ClaimRefusal;

export type ClaimResult =
  /** This consumer's session is gone. */
  | { readonly status: 'lost' }
  | { readonly status: 'ok'; readonly outcomes: ClaimOutcome[] };

const reply = z.union([
  z.tuple([z.literal('lost')]),
  z
    .tuple([z.literal('ok')])
    .rest(z.union([z.tuple([z.number(), z.string(), z.string(), z.enum(['takeover', 'handoff'])]), z.enum(['alive', 'taken', 'mismatch', 'duplicate', 'poison', 'malformed'])])),
]);

/** claim.lua: moves entries of a dead consumer (or offered by a live one) to this one, each with a new fencing token;
 * exactly one of several concurrent claimers wins each entry. */
export async function claim(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly previousOwner: string; readonly entries: readonly ClaimEntry[] },
): Promise<ClaimResult> {
  const parsed = reply.parse(
    await runner.run(
      'claim',
      [
        keys.lbs,
        sessionKey(keys, consumerId),
        sessionKey(keys, request.previousOwner),
        keys.owners,
        keys.loads,
        keys.token,
        keys.released,
        keys.deadLetter,
        keys.consumers,
        keys.started,
        keys.ended,
        keys.offers,
      ],
      [
        keys.group,
        consumerId,
        request.nonce,
        request.previousOwner,
        options.maxEntryBytes,
        options.maxDeliveries,
        keys.sessionPrefix,
        ...request.entries.flatMap((entry) => [entry.lbsId, entry.stream, entry.known ? 1 : 0]),
      ],
    ),
  );
  if (parsed[0] !== 'ok') return { status: parsed[0] };
  const [, ...items] = parsed;
  return {
    status: 'ok',
    outcomes: items.map((item) => {
      if (item === 'alive') return 'owner-alive';
      return typeof item === 'string' ? item : { token: item[0], stream: item[1], raw: item[2], origin: item[3] };
    }),
  };
}
