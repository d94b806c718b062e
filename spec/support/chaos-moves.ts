/**
 * No ping-pong: rebalancing moves a stream at most once per change of membership. A stream handed over is not moved
 * on before the membership changes again, so between two moves of one stream some change of membership must have
 * acted, and each change can stand between one pair of moves of a stream at most.
 *
 * A move is a hand-off for rebalancing, seen in the consumers' reports: the giver's streamReleased with reason
 * 'rebalance', and the next grant of the stream (a higher token), normally the receiver's streamAdded with origin
 * 'handoff'. Hand-offs of close() and drain() are no moves of their own: they are the change.
 *
 * The parent times the changes (chaos-membership.ts) and the children time the moves, on one machine's clock. A
 * change acts in Redis somewhere from its `at` to its `until` plus `graceMs` (a death is noticed when the session
 * runs out and a sweep sees it; a move is reported a little after its script ran), so it can stand between two moves
 * when that window meets the time between them.
 */
import type { Member } from './chaos-fleet.js';
import type { MembershipChange } from './chaos-membership.js';
import { show } from './chaos-invariants.js';

export interface Move {
  readonly stream: string;
  readonly from: string;
  /** The consumer granted the stream next: the receiver, unless the hand-off was lost and the stream regained. */
  readonly to: string | undefined;
  /** How the next grant came: 'handoff' normally. */
  readonly origin: string | undefined;
  /** The earlier of the release's and the next grant's reports (both come after the hand-off's script ran). */
  readonly at: number;
}

/** Every move of every stream, by the reports of `members` (all the processes the test started). */
export function movesOf(members: readonly Member[]): Move[] {
  const grants = members.flatMap(({ id, consumer }) =>
    consumer.reports.flatMap((report) => (report.event === 'streamAdded' ? [{ ...report, id }] : [])),
  );
  const moves: Move[] = [];
  for (const { id, consumer } of members) {
    for (const report of consumer.reports) {
      if (report.event !== 'streamReleased' || report.reason !== 'rebalance') continue;
      const next = grants
        .filter((grant) => grant.stream === report.stream && grant.token > report.token)
        .reduce<(typeof grants)[number] | undefined>((first, grant) => (!first || grant.token < first.token ? grant : first), undefined);
      moves.push({ stream: report.stream, from: id, to: next?.id, origin: next?.origin, at: Math.min(report.at, next?.at ?? Infinity) });
    }
  }
  return moves;
}

export interface MovesVerdict {
  violations: string[];
  moves: number;
  /** Streams moved at least once. */
  streams: number;
  /** The most moves of one stream. */
  mostOfOne: number;
}

/**
 * Checks that no stream moved twice without a change of membership of its own between: for each stream, its moves
 * in time order, each gap between consecutive moves matched with a change not matched with an earlier gap of that
 * stream (the one whose window closes first, which leaves the most for the gaps after it).
 */
export function checkMoves(moves: readonly Move[], changes: readonly MembershipChange[], graceMs: number): MovesVerdict {
  const byStream = new Map<string, Move[]>();
  for (const move of moves) byStream.set(move.stream, [...(byStream.get(move.stream) ?? []), move]);
  const violations: string[] = [];
  for (const [stream, list] of byStream) {
    list.sort((a, b) => a.at - b.at);
    const used = new Set<MembershipChange>();
    for (let i = 1; i < list.length; i++) {
      const [before, after] = [list[i - 1]!, list[i]!];
      const between = changes
        .filter((change) => !used.has(change) && change.at <= after.at && change.until + graceMs >= before.at)
        .sort((a, b) => a.until - b.until)[0];
      if (between) used.add(between);
      else violations.push(`${show(stream)} moved twice with no change of membership between: ${describe(before)}, then ${describe(after)}${context(changes, after.at)}`);
    }
  }
  const counts = [...byStream.values()].map((list) => list.length);
  return { violations, moves: moves.length, streams: byStream.size, mostOfOne: Math.max(0, ...counts) };
}

function describe(move: Move): string {
  return `${move.from} -> ${move.to ?? 'nobody'}${move.origin && move.origin !== 'handoff' ? ` (${move.origin})` : ''} at ${time(move.at)}`;
}

/** The last change that began before `at`, for the message. */
function context(changes: readonly MembershipChange[], at: number): string {
  const last = changes.filter((change) => change.at <= at).sort((a, b) => b.at - a.at)[0];
  return last ? ` (last change before: ${last.kind} of ${last.member.id}, ${time(last.at)} to ${time(last.until)})` : '';
}

/** A time of day with milliseconds, to read against the run's log. */
function time(at: number): string {
  return new Date(at).toISOString().slice(11, 23);
}
