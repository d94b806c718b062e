/**
 * The guarantees under faults, checked at the end of a chaos run from the consumers' reports and from Redis:
 * (a) no stream lost: every stream of a well-formed entry is finished, owned by a running consumer, or
 *     dead-lettered as poison;
 * (b) one owner: no stream is owned by two running consumers, what a consumer believes it owns is what Redis says
 *     it owns (so a stalled consumer has reported streamDisowned for what it lost), no entry is pending under a
 *     consumer that is gone or holds no lease for it, and the fencing tokens of a stream's successive grants
 *     strictly increase;
 * (d) the dead-letter stream holds exactly what belongs there: every malformed entry, with a reason, never granted
 *     first; and of the well-formed ones only poison: entries whose owners really died (see `deathsOf`) about
 *     maxDeliveries times. A server that pauses (DEBUG SLEEP) kills no consumer: those deliveries are not deaths.
 * Takeover times, guarantee (c), are measured in chaos-takeover.ts.
 */
import type { NodeRedis } from './fleet.js';
import type { ChaosFleet, Member } from './chaos-fleet.js';
import { readServiceState, type ServiceState } from './chaos-redis-state.js';
import { sleep } from './wait.js';

export interface Verdict {
  violations: string[];
  owned: number;
  finished: number;
  /** Streams of well-formed entries that were dead-lettered. */
  deadLettered: number;
  /** Malformed entries in the dead-letter stream. */
  malformedDeadLettered: number;
}

export interface EdgeEntry {
  readonly kind: string;
  readonly wellFormed: boolean;
}

/** What the test put on the LBS and did to the fleet: what the end state is judged against. */
export interface Expectations {
  /** The streams named by the well-formed entries the test added. */
  readonly added: readonly string[];
  /** Entries the test wrote as they are (edge cases): LBS entry id -> what is odd about it, and whether it is a
   * well-formed entry anyway. A malformed one must be dead-lettered; a well-formed one names one of `added`. */
  readonly edgeCases: ReadonlyMap<string, EdgeEntry>;
  /**
   * How many times an owner of the entry died: it was pending under a consumer (granted, or delivered by a
   * blocking read) when that consumer was SIGKILLed or SIGSTOPped past its session (read from Redis just after
   * the signal). close() is a hand-off, a server pause is no death.
   */
  deathsOf(lbsId: string): number;
  /** The maxDeliveries the consumers run with. */
  readonly maxDeliveries: number;
}

/**
 * A poison entry is one whose owners died maxDeliveries times. The library may count one more delivery than the
 * deaths the test sees: a reply lost with its connection and the entry taken back, a close() whose hand-off Redis
 * did not answer in time (the session then expires, a death to the library). So an entry dead-lettered as poison
 * is legitimate when the test saw at least maxDeliveries - UNSEEN_DELIVERIES deaths of its owners; with fewer, the
 * library counted as deaths what were none (server pauses, an old blocking read of a live consumer).
 */
export const UNSEEN_DELIVERIES = 1;

/** The reason the library gives a poison entry (docs/operations.md, "The dead-letter stream"). */
const POISON_REASON = /^its owners died \d+ times/;

/** Checks every invariant now. */
export async function checkInvariants(redis: NodeRedis, fleet: ChaosFleet, expected: Expectations): Promise<Verdict> {
  const state = await readServiceState(redis, fleet.options.serviceName, fleet.members.map((m) => m.id));
  const violations: string[] = [];
  const malformed = new Map([...expected.edgeCases].filter(([, edge]) => !edge.wellFormed));
  for (const member of fleet.members) {
    if (member.state === 'crashed') violations.push(`consumer ${member.id} (pid ${member.consumer.pid}) crashed`);
  }
  const beliefs = new Map<string, Beliefs>();
  for (const member of fleet.running()) {
    const asked = await beliefsOf(member);
    if (typeof asked === 'string') violations.push(asked);
    else beliefs.set(member.id, asked);
  }
  violations.push(
    ...checkBeliefs(beliefs, state, malformed),
    ...checkTokens(fleet.members),
    ...checkPending(beliefs, state, expected.edgeCases),
    ...checkDeadLetters(state, expected),
    ...checkMalformed(fleet.members, state, malformed),
  );
  const verdict = checkStreams(expected.added, fleet, beliefs, state);
  const malformedDeadLettered = state.deadLetters.filter((dead) => malformed.has(dead.lbsId)).length;
  return { ...verdict, malformedDeadLettered, violations: [...violations, ...verdict.violations] };
}

/**
 * Checks until every invariant holds or `timeoutMs` has passed (the fleet may still be taking streams over, a
 * resumed consumer may not have noticed its loss yet); returns the last verdict. A violation that outlasts the
 * wait is one for good.
 */
export async function settle(redis: NodeRedis, fleet: ChaosFleet, expected: Expectations, timeoutMs: number): Promise<Verdict> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const verdict = await checkInvariants(redis, fleet, expected);
    if (verdict.violations.length === 0 || Date.now() > deadline) return verdict;
    await sleep(200);
  }
}

/** What a running consumer believes it owns: stream -> entry id. */
type Beliefs = Map<string, string>;

/** Asks the child for `client.owned()`, and checks it against what its events said; a string is a violation. */
async function beliefsOf(member: Member): Promise<Beliefs | string> {
  const reply = await Promise.race([member.consumer.request({ command: 'owned' }), sleep(3000).then(() => undefined)]);
  if (!reply?.owned) return `${member.id} did not say what it owns (${reply?.failed ?? 'no answer within 3 s'})`;
  const owned: Beliefs = new Map(reply.owned.map((lease) => [lease.stream, lease.lbsId]));
  const reported = member.consumer.owned(reply.reportCount);
  const unreported = [...owned.keys()].filter((stream) => !reported.has(stream));
  const unlisted = [...reported.keys()].filter((stream) => !owned.has(stream));
  if (unreported.length + unlisted.length > 0) {
    return `${member.id}: owned() and its events disagree (owned() only: ${list(unreported)}; events only: ${list(unlisted)})`;
  }
  return owned;
}

/** (b) No stream believed owned by two running consumers, and what each believes it owns is its own in Redis.
 * A malformed entry granted is checkMalformed's to report. */
function checkBeliefs(beliefs: ReadonlyMap<string, Beliefs>, state: ServiceState, malformed: ReadonlyMap<string, EdgeEntry>): string[] {
  const violations: string[] = [];
  const believers = new Map<string, string[]>();
  for (const [id, owned] of beliefs) {
    if (owned.size > 0 && !state.sessions.has(id)) violations.push(`${id} believes it owns ${owned.size} streams but its session is gone`);
    for (const [stream, lbsId] of owned) {
      believers.set(stream, [...(believers.get(stream) ?? []), id]);
      const pending = state.pending.get(lbsId);
      if (malformed.has(lbsId) && pending?.consumer === id) continue;
      if (state.entries.get(lbsId) !== stream || pending?.consumer !== id) {
        const truth = !state.entries.has(lbsId)
          ? 'the entry is gone'
          : pending?.consumer !== id
            ? pending ? `it is pending under ${pending.consumer}` : 'it is not pending'
            : `the entry names ${show(state.entries.get(lbsId) ?? '(no stream JSON.parse can read)')}`;
        violations.push(`${id} believes it owns ${show(stream)} (entry ${lbsId}) but Redis says ${truth}`);
      }
    }
  }
  for (const [stream, ids] of believers) {
    if (ids.length > 1) violations.push(`${show(stream)} is owned by ${ids.join(' and ')} at once`);
  }
  return violations;
}

/** (b) Per stream, grants in the order they were reported carry strictly increasing tokens; no token twice. */
function checkTokens(members: readonly Member[]): string[] {
  const grants = members.flatMap((member) =>
    member.consumer.reports.flatMap((r) => (r.event === 'streamAdded' ? [{ ...r, id: member.id }] : [])),
  );
  const violations: string[] = [];
  const byToken = new Map<number, string>();
  for (const grant of grants) {
    const earlier = byToken.get(grant.token);
    if (earlier !== undefined) violations.push(`token ${grant.token} granted twice (${earlier}; ${show(grant.stream)} to ${grant.id})`);
    byToken.set(grant.token, `${show(grant.stream)} to ${grant.id}`);
  }
  const byStream = new Map<string, typeof grants>();
  for (const grant of grants) byStream.set(grant.stream, [...(byStream.get(grant.stream) ?? []), grant]);
  for (const [stream, list] of byStream) {
    list.sort((a, b) => a.at - b.at || a.token - b.token);
    for (let i = 1; i < list.length; i++) {
      if (list[i]!.token <= list[i - 1]!.token) {
        violations.push(
          `${show(stream)}: token ${list[i]!.token} to ${list[i]!.id} at ${list[i]!.at} after token ${list[i - 1]!.token} to ${list[i - 1]!.id} at ${list[i - 1]!.at}`,
        );
      }
    }
  }
  return violations;
}

/**
 * (b) Every entry pending in Redis is pending under a running consumer that holds a lease for it: none under a
 * consumer that is gone (never taken over), none under a live one that does not know (an entry delivered to it
 * and dropped, or granted while its reply was lost, and never taken back).
 */
function checkPending(beliefs: ReadonlyMap<string, Beliefs>, state: ServiceState, edgeCases: ReadonlyMap<string, EdgeEntry>): string[] {
  const violations: string[] = [];
  for (const [lbsId, { consumer, deliveries }] of state.pending) {
    const leases = beliefs.get(consumer);
    if (leases && state.sessions.has(consumer) && [...leases.values()].includes(lbsId)) continue;
    // A malformed entry still pending is checkMalformed's to report.
    if (edgeCases.get(lbsId)?.wellFormed === false) continue;
    const what = describeEntry(lbsId, state, edgeCases);
    if (!leases || !state.sessions.has(consumer)) {
      violations.push(`${what} is orphaned: pending under ${consumer}, which is gone (delivered ${deliveries} times)`);
    } else {
      const stream = state.entries.get(lbsId);
      const granted = stream !== undefined && state.owners.get(stream) === lbsId ? 'granted (in the owners hash)' : 'delivered but never granted';
      violations.push(`${what} is orphaned: pending under ${consumer}, which runs but holds no lease for it (${granted}, delivered ${deliveries} times)`);
    }
  }
  return violations;
}

/**
 * (d) Of the well-formed entries only poison is dead-lettered: an entry whose owners died at least maxDeliveries
 * - UNSEEN_DELIVERIES times (Expectations.deathsOf). With pauses the only fault that touched a stream, it may not
 * be poison. A malformed entry is dead-lettered as malformed, not as poison after being granted and taken over.
 */
function checkDeadLetters(state: ServiceState, expected: Expectations): string[] {
  const violations: string[] = [];
  const deathsNeeded = expected.maxDeliveries - UNSEEN_DELIVERIES;
  for (const { lbsId, stream, reason } of state.deadLetters) {
    const what = describeEntry(lbsId, state, expected.edgeCases, stream);
    if (reason === '') violations.push(`${what} is in the dead-letter stream without a reason`);
    else if (expected.edgeCases.get(lbsId)?.wellFormed === false) {
      if (POISON_REASON.test(reason)) violations.push(`${what} was dead-lettered as poison ("${reason}") rather than as malformed`);
    } else if (!POISON_REASON.test(reason)) {
      violations.push(`${what} is well formed, yet was dead-lettered: "${reason}"`);
    } else {
      const deaths = expected.deathsOf(lbsId);
      if (deaths < deathsNeeded) {
        violations.push(
          `${what} was dead-lettered as poison ("${reason}") though its owners died ${deaths} times (killed or stalled with it ` +
            `pending; poison needs ${deathsNeeded}): the other deliveries were no deaths`,
        );
      }
    }
  }
  return violations;
}

/** (d) Every malformed entry the test wrote is dead-lettered with a reason, gone from the LBS, never granted. */
function checkMalformed(members: readonly Member[], state: ServiceState, malformed: ReadonlyMap<string, EdgeEntry>): string[] {
  const violations: string[] = [];
  const grants = new Map<string, string>();
  for (const member of members) {
    for (const report of member.consumer.reports) {
      if (report.event === 'streamAdded' && malformed.has(report.lbsId) && !grants.has(report.lbsId)) {
        grants.set(report.lbsId, `${member.id} as ${show(report.stream)}`);
      }
    }
  }
  for (const lbsId of malformed.keys()) {
    const what = describeEntry(lbsId, state, malformed);
    const granted = grants.get(lbsId);
    if (granted) violations.push(`${what} was granted to ${granted} instead of being dead-lettered`);
    if (state.entries.has(lbsId)) {
      const pending = state.pending.get(lbsId);
      violations.push(`${what} is still on the LBS (${pending ? `pending under ${pending.consumer}` : 'not pending'}), not dead-lettered`);
    } else if (!state.deadLetters.some((dead) => dead.lbsId === lbsId)) {
      violations.push(`${what} is gone from the LBS but not in the dead-letter stream`);
    }
  }
  return violations;
}

/** An LBS entry for a message: the stream it names, and what is odd about it when it is an edge case. */
function describeEntry(lbsId: string, state: ServiceState, edgeCases: ReadonlyMap<string, EdgeEntry>, stream = state.entries.get(lbsId)): string {
  const edge = edgeCases.get(lbsId);
  if (edge && !edge.wellFormed) return `malformed entry ${lbsId} (${edge.kind})`;
  const what = edge ? `entry ${lbsId}, ${edge.kind}` : `entry ${lbsId}`;
  return stream === undefined ? what : `${show(stream)} (${what})`;
}

/** (a) Every added stream is owned (checkPending says what is wrong with an owner), finished, or dead-lettered
 * (checkDeadLetters says whether it should be). */
function checkStreams(
  added: readonly string[],
  fleet: ChaosFleet,
  beliefs: ReadonlyMap<string, Beliefs>,
  state: ServiceState,
): Omit<Verdict, 'malformedDeadLettered'> {
  const violations: string[] = [];
  const finishing = finishAttempts(fleet.members);
  const entriesOf = new Map<string, string[]>();
  for (const [id, stream] of state.entries) {
    if (stream !== undefined) entriesOf.set(stream, [...(entriesOf.get(stream) ?? []), id]);
  }
  let owned = 0;
  let finished = 0;
  let deadLettered = 0;
  for (const stream of added) {
    const ids = entriesOf.get(stream) ?? [];
    if (ids.length === 0) {
      if (state.deadLetters.some((dead) => dead.stream === stream && dead.reason !== '')) deadLettered++;
      else if (finishing.has(stream)) finished++;
      else violations.push(`${show(stream)} vanished: no LBS entry, never finished, not dead-lettered`);
      continue;
    }
    if (ids.length > 1) violations.push(`${show(stream)} has ${ids.length} LBS entries`);
    if (finishing.get(stream) === 'done') violations.push(`${show(stream)}: doneStream said done, yet its entry is still there`);
    for (const id of ids) {
      const pending = state.pending.get(id);
      if (!pending) violations.push(`${show(stream)} (entry ${id}) is not pending under anyone: never assigned`);
      else if (beliefs.get(pending.consumer)?.get(stream) === id) owned++;
    }
  }
  return { violations, owned, finished, deadLettered };
}

/**
 * Streams the test asked to finish: 'done' (doneStream said so), or 'maybe' (doneStream's reply was lost, or the
 * consumer owned the stream until done(), which finishes what it can).
 */
function finishAttempts(members: readonly Member[]): Map<string, 'done' | 'maybe'> {
  const attempts = new Map<string, 'done' | 'maybe'>();
  const maybe = (stream: string): void => {
    if (!attempts.has(stream)) attempts.set(stream, 'maybe');
  };
  for (const { consumer } of members) {
    consumer.reports.forEach((report, i) => {
      if (report.event === 'finished' && report.outcome === 'done') attempts.set(report.stream, 'done');
      else if (report.event === 'finished' && report.outcome === 'failed') maybe(report.stream);
      else if (report.event === 'stopped' && report.how === 'done') for (const stream of consumer.owned(i).keys()) maybe(stream);
    });
  }
  return attempts;
}

function list(streams: readonly string[]): string {
  return streams.length === 0 ? '-' : `${streams.slice(0, 5).map(show).join(', ')}${streams.length > 5 ? ` and ${streams.length - 5} more` : ''}`;
}

/** A stream name as it can be printed on one line. */
export function show(stream: string): string {
  return JSON.stringify(stream);
}
