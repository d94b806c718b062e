/**
 * The rebalancing scenario's reading of what the consumers reported: every streamAdded, streamReleased and
 * streamDisowned, timestamped in the worker processes (wall clock, same machine), merged into one timeline. From it:
 * how many streams each consumer owned at any moment, when the counts came within the fair share, and, per stream
 * moved, the gap between the giver's release and the receiver's add.
 */
import type { LeaseOrigin } from '../../lib/index.js';
import type { HandoffHeard } from '../lib/protocol.js';
import type { Worker } from '../lib/workers.js';

export interface OwnershipEvent {
  /** Index of the consumer (its worker) that reported it. */
  consumer: number;
  stream: string;
  /** Wall-clock ms of the event in the consumer's process. */
  at: number;
  kind: 'added' | 'released' | 'disowned';
  /** added: where the lease came from. */
  origin?: LeaseOrigin;
  /** released: when the lease ended (its signal aborted), 0 when not timed. */
  endedAt?: number;
}

/** Every event the workers reported in their current sessions, oldest first. */
export function timeline(workers: readonly Worker[]): OwnershipEvent[] {
  const events: OwnershipEvent[] = [];
  workers.forEach((worker, consumer) => {
    for (const [stream, at, , origin] of worker.added) events.push({ consumer, stream, at, kind: 'added', origin });
    for (const [stream, at, , endedAt] of worker.released) events.push({ consumer, stream, at, kind: 'released', endedAt });
    for (const [stream, at] of worker.disowned) events.push({ consumer, stream, at, kind: 'disowned' });
  });
  return events.sort((a, b) => a.at - b.at);
}

/** The streams each of `consumers` owned just after `at` (a stream added again while owned counts once). */
export function ownedAt(events: readonly OwnershipEvent[], consumers: number, at: number): Array<Set<string>> {
  const owned = Array.from({ length: consumers }, () => new Set<string>());
  for (const event of events) {
    if (event.at > at) break;
    apply(owned, event);
  }
  return owned;
}

function apply(owned: Array<Set<string>>, event: OwnershipEvent): void {
  if (event.kind === 'added') owned[event.consumer]!.add(event.stream);
  else owned[event.consumer]!.delete(event.stream);
}

/**
 * How long after `from` every consumer's count came within `share ± tolerance` for good (until the last event):
 * ms, or undefined when the counts were not all within it at the end.
 */
export function convergence(events: readonly OwnershipEvent[], consumers: number, from: number, share: number, tolerance: number): number | undefined {
  const owned = ownedAt(events, consumers, from);
  const within = (): boolean => owned.every((streams) => Math.abs(streams.size - share) <= tolerance);
  let since: number | undefined = within() ? from : undefined;
  for (const event of events) {
    if (event.at <= from) continue;
    apply(owned, event);
    if (!within()) since = undefined;
    else since ??= event.at;
  }
  return since === undefined ? undefined : since - from;
}

export interface Moves {
  /** streamReleased events after `from`. */
  released: number;
  /** Per release matched with the receiver's add (origin 'handoff'): the add's time minus the release's (ms),
   * ascending. */
  gaps: number[];
  /** The same gaps in two parts, by the last 'handoff:' message the receiver heard before the add (each ascending):
   * release → that message heard (negative when the giver's streamReleased event came after the receiver heard: it
   * is emitted once handoff.lua has replied), and heard → the add (the receiver owning the streams of the message, up
   * to this one). */
  toHeard: number[];
  afterHeard: number[];
  /** Releases no receiver reported adding. */
  unmatched: number;
  /** Adds reported before the giver's streamReleased event (the events crossed). */
  crossed: number;
  /** Adds reported before the giver's lease ended (its signal aborted): owned by two consumers at once. Only where
   * lease ends were timed. */
  overlapping: number;
}

/**
 * The streams moved after `from`: each giver's release matched, per stream in order, with the next add by another
 * consumer with origin 'handoff'. `heard`: per consumer, the 'handoff:' messages it heard, to split the gaps.
 */
export function moves(events: readonly OwnershipEvent[], from: number, heard: ReadonlyArray<readonly HandoffHeard[]> = []): Moves {
  const releases = new Map<string, OwnershipEvent[]>();
  const handed = new Map<string, OwnershipEvent[]>();
  for (const event of events) {
    if (event.at <= from) continue;
    if (event.kind === 'released') push(releases, event);
    else if (event.kind === 'added' && event.origin === 'handoff') push(handed, event);
  }
  const result: Moves = { released: 0, gaps: [], toHeard: [], afterHeard: [], unmatched: 0, crossed: 0, overlapping: 0 };
  for (const [stream, given] of releases) {
    const adds = (handed.get(stream) ?? []).slice();
    for (const release of given) {
      result.released++;
      const index = adds.findIndex((add) => add.consumer !== release.consumer);
      if (index < 0) {
        result.unmatched++;
        continue;
      }
      const [add] = adds.splice(index, 1);
      result.gaps.push(add!.at - release.at);
      const message = (heard[add!.consumer] ?? []).filter(([heardAt]) => heardAt <= add!.at).at(-1);
      if (message) {
        result.toHeard.push(message[0] - release.at);
        result.afterHeard.push(add!.at - message[0]);
      }
      if (add!.at < release.at) result.crossed++;
      if (release.endedAt && add!.at < release.endedAt) result.overlapping++;
    }
  }
  for (const values of [result.gaps, result.toHeard, result.afterHeard]) values.sort((a, b) => a - b);
  return result;
}

function push(map: Map<string, OwnershipEvent[]>, event: OwnershipEvent): void {
  const list = map.get(event.stream);
  if (list) list.push(event);
  else map.set(event.stream, [event]);
}

/** When the workers last reported a change (wall-clock ms), 0 when none. */
export function lastChange(workers: readonly Worker[]): number {
  let last = 0;
  for (const worker of workers) {
    last = Math.max(last, worker.added.at(-1)?.[1] ?? 0, worker.released.at(-1)?.[1] ?? 0, worker.disowned.at(-1)?.[1] ?? 0);
  }
  return last;
}
