import { z } from 'zod';
import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** What became of one stream: handed `to` a consumer, `kept` under a new token (nobody could be handed it), or
 * `not-owner` (this consumer did not own it through that entry). */
export type HandoffOutcome = { readonly to: string } | { readonly kept: number } | 'not-owner';

export type HandoffResult =
  | { readonly lost: true }
  | { readonly lost: false; readonly room: number; readonly outcomes: HandoffOutcome[] };

/** A stream to hand over: its entry, its name, and its Info as JSON (passed on to the receiver). */
export interface HandoffStream {
  readonly lbsId: string;
  readonly stream: string;
  readonly info: string;
}

const reply = z.union([
  z.tuple([z.literal('lost')]),
  z
    .tuple([z.literal('ok'), z.number()])
    .rest(z.union([z.tuple([z.literal('to'), z.string()]), z.tuple([z.literal('kept'), z.string()]), z.literal('not-owner')])),
]);

/** handoff.lua: hands the given streams to the consumers furthest below their fair share, each receiver told by one
 * message. With no streams, tells how many the others could be handed. */
export async function handoff(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly database: number; readonly streams: readonly HandoffStream[] },
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
        request.database,
        ...request.streams.flatMap(({ lbsId, stream, info }) => [lbsId, stream, info]),
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

/** A `handoff:` message of handoff.lua, as its receiver reads it. */
export interface HandoffMessage {
  /** The receiver's nonce when the streams were handed over: only that incarnation may act on them. */
  readonly nonce: string;
  /** The membership counter then. */
  readonly membership: number;
  readonly giver: string;
  /** Granted (`token`) in autoClaim mode, or offered (`token` undefined) in manual mode. */
  readonly streams: ReadonlyArray<{ lbsId: string; stream: string; token: number | undefined; info: string }>;
}

const messageSchema = z.object({
  n: z.string(),
  m: z.string(),
  g: z.string(),
  s: z.array(z.tuple([z.string(), z.string(), z.string().regex(/^\d*$/), z.string()])),
});

export const HANDOFF_PREFIX = 'handoff:';

/** Decodes a `handoff:` message; undefined for anything else (another keyspace event, or a malformed message). */
export function decodeHandoff(message: string): HandoffMessage | undefined {
  if (!message.startsWith(HANDOFF_PREFIX)) return undefined;
  let parsed;
  try {
    parsed = messageSchema.safeParse(JSON.parse(message.slice(HANDOFF_PREFIX.length)));
  } catch {
    return undefined;
  }
  if (!parsed.success) return undefined;
  const { n, m, g, s } = parsed.data;
  return {
    nonce: n,
    membership: Number(m),
    giver: g,
    streams: s.map(([lbsId, stream, token, info]) => ({ lbsId, stream, token: token === '' ? undefined : Number(token), info })),
  };
}
