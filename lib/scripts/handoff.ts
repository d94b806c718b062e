import { sessionKey } from '../keys.js';
import type { ScriptRunner, ScriptScope } from './runner.js';

/** What became of one stream: handed `to` a consumer; nobody could be handed it, so `kept` under a new token or
 * `left` as it was (see `unhanded`); or `not-owner` (this consumer did not own it through that entry). */
export type HandoffOutcome = { readonly to: string } | { readonly kept: number } | 'left' | 'not-owner';

/** What handoff.lua does with a stream nobody may be handed: keep it under a new token (a lease goes on), or leave it
 * pending as it is (close(): the session ends next, and the others take it over). */
export type Unhanded = 'keep' | 'leave';

export type HandoffResult =
  | { readonly lost: true }
  | { readonly lost: false; readonly room: number; readonly outcomes: HandoffOutcome[] };

/** A stream to hand over: its entry, its name, and its Info as JSON (passed on to the receiver). */
export interface HandoffStream {
  readonly lbsId: string;
  readonly stream: string;
  readonly info: string;
}

const TOKEN = /^\d+$/;

/** Reads handoff.lua's reply (checked by hand: it has an item per stream, up to a thousand, and runs on the way to
 * the receivers). */
function readReply(raw: unknown, streams: number): HandoffResult {
  if (!Array.isArray(raw)) throw new TypeError(`handoff.lua replied ${typeof raw}`);
  if (raw.length === 1 && raw[0] === 'lost') return { lost: true };
  const [status, room, receivers, ...items] = raw as unknown[];
  if (status !== 'ok' || typeof room !== 'number' || !Array.isArray(receivers) || items.length !== streams) {
    throw new TypeError(`handoff.lua replied ${JSON.stringify(raw).slice(0, 200)}`);
  }
  // Per stream: a receiver's place in receivers (from 1), 0 (not-owner), -1 (left), or the token of a stream kept.
  const outcomes = items.map((item): HandoffOutcome => {
    if (typeof item === 'string' && TOKEN.test(item)) return { kept: Number(item) };
    if (item === 0) return 'not-owner';
    if (item === -1) return 'left';
    const to: unknown = typeof item === 'number' ? receivers[item - 1] : undefined;
    if (typeof to !== 'string') throw new TypeError(`handoff.lua replied the outcome ${JSON.stringify(item)} with ${receivers.length} receivers`);
    return { to };
  });
  return { lost: false, room, outcomes };
}

/** handoff.lua: hands the given streams (best in order of entry id) to the consumers furthest below their fair share,
 * each receiver told by one message. With no streams, tells how many the others could be handed. */
export async function handoff(
  runner: ScriptRunner,
  { keys, consumerId, options }: ScriptScope,
  request: { readonly nonce: string; readonly database: number; readonly unhanded: Unhanded; readonly streams: readonly HandoffStream[] },
): Promise<HandoffResult> {
  return readReply(
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
        request.unhanded,
        ...request.streams.flatMap(({ lbsId, stream, info }) => [lbsId, stream, info]),
      ],
    ),
    request.streams.length,
  );
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

export const HANDOFF_PREFIX = 'handoff:';

/** Decodes a `handoff:` message; undefined for anything else (another keyspace event, or a malformed message).
 * Checked by hand: a message names up to a thousand streams, and a receiver's first one should not wait for a schema
 * to be compiled. */
export function decodeHandoff(message: string): HandoffMessage | undefined {
  if (!message.startsWith(HANDOFF_PREFIX)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.slice(HANDOFF_PREFIX.length));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { n, m, g, s } = parsed as Record<string, unknown>;
  if (typeof n !== 'string' || typeof m !== 'string' || !TOKEN.test(m) || typeof g !== 'string' || !Array.isArray(s)) return undefined;
  const streams: Array<HandoffMessage['streams'][number]> = [];
  for (const item of s as unknown[]) {
    if (!Array.isArray(item) || item.length !== 4) return undefined;
    const [lbsId, stream, token, info] = item as unknown[];
    if (typeof lbsId !== 'string' || typeof stream !== 'string' || typeof info !== 'string') return undefined;
    if (token !== '' && !(typeof token === 'string' && TOKEN.test(token))) return undefined;
    streams.push({ lbsId, stream, token: token === '' ? undefined : Number(token), info });
  }
  return { nonce: n, membership: Number(m), giver: g, streams };
}
