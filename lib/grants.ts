import { z } from 'zod';
import type { StreamInfo } from './events.js';

/** What a script did with one LBS entry (take.lua, recover.lua). */
export type EntryOutcome =
  | { kind: 'granted'; lbsId: string; stream: string; info: StreamInfo; token: number }
  | { kind: 'duplicate'; lbsId: string; stream: string }
  | { kind: 'dead'; lbsId: string; reason: string };

const outcomeSchema = z.union([
  z.tuple([z.literal('granted'), z.string(), z.string(), z.string(), z.number()]),
  z.tuple([z.literal('duplicate'), z.string(), z.string()]),
  z.tuple([z.literal('dead'), z.string(), z.string()]),
]);

/** The entry format; scripts already checked it, so this only types it. */
const entrySchema = z.object({ Info: z.unknown().optional() });

export function decodeOutcomes(items: readonly unknown[]): EntryOutcome[] {
  return items.map((item) => {
    const parsed = outcomeSchema.parse(item);
    switch (parsed[0]) {
      case 'granted':
        return { kind: 'granted', lbsId: parsed[1], stream: parsed[2], info: decodeInfo(parsed[3]), token: parsed[4] };
      case 'duplicate':
        return { kind: 'duplicate', lbsId: parsed[1], stream: parsed[2] };
      case 'dead':
        return { kind: 'dead', lbsId: parsed[1], reason: parsed[2] };
    }
  });
}

/** The `Info` object of an `lbs-input` value; `{}` when absent (or an empty JSON array, which Lua cannot tell
 * from an empty object). */
export function decodeInfo(raw: string): StreamInfo {
  const info = entrySchema.parse(JSON.parse(raw)).Info;
  return typeof info === 'object' && info !== null && !Array.isArray(info) ? (info as StreamInfo) : {};
}
