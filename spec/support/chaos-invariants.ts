/**
 * The guarantees under faults, checked at the end of a chaos run from the consumers' reports and from Redis:
 * (a) no stream lost: every added stream is finished, owned by a running consumer, or dead-lettered with a reason;
 * (b) one owner: no stream is owned by two running consumers, what a consumer believes it owns is what Redis says
 *     it owns (so a stalled consumer has reported streamDisowned for what it lost), and the fencing tokens of a
 *     stream's successive grants strictly increase.
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
  deadLettered: number;
}

/** Checks every invariant now. */
export async function checkInvariants(redis: NodeRedis, fleet: ChaosFleet, added: readonly string[]): Promise<Verdict> {
  const state = await readServiceState(redis, fleet.options.serviceName, fleet.members.map((m) => m.id));
  const violations: string[] = [];
  for (const member of fleet.members) {
    if (member.state === 'crashed') violations.push(`consumer ${member.id} (pid ${member.consumer.pid}) crashed`);
  }
  const beliefs = new Map<string, Beliefs>();
  for (const member of fleet.running()) {
    const asked = await beliefsOf(member);
    if (typeof asked === 'string') violations.push(asked);
    else beliefs.set(member.id, asked);
  }
  violations.push(...checkBeliefs(beliefs, state), ...checkTokens(fleet.members));
  const verdict = checkStreams(added, fleet, beliefs, state);
  return { ...verdict, violations: [...violations, ...verdict.violations] };
}

/**
 * Checks until every invariant holds or `timeoutMs` has passed (the fleet may still be taking streams over, a
 * resumed consumer may not have noticed its loss yet); returns the last verdict. A violation that outlasts the
 * wait is one for good.
 */
export async function settle(redis: NodeRedis, fleet: ChaosFleet, added: readonly string[], timeoutMs: number): Promise<Verdict> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const verdict = await checkInvariants(redis, fleet, added);
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

/** (b) No stream believed owned by two running consumers, and what each believes it owns is its own in Redis. */
function checkBeliefs(beliefs: ReadonlyMap<string, Beliefs>, state: ServiceState): string[] {
  const violations: string[] = [];
  const believers = new Map<string, string[]>();
  for (const [id, owned] of beliefs) {
    if (owned.size > 0 && !state.sessions.has(id)) violations.push(`${id} believes it owns ${owned.size} streams but its session is gone`);
    for (const [stream, lbsId] of owned) {
      believers.set(stream, [...(believers.get(stream) ?? []), id]);
      const pending = state.pending.get(lbsId);
      if (state.entries.get(lbsId) !== stream || pending?.consumer !== id) {
        const truth = !state.entries.has(lbsId) ? 'the entry is gone' : pending ? `pending under ${pending.consumer}` : 'not pending';
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

/** (a) Every added stream is owned by a running consumer that knows it, finished, or dead-lettered. */
function checkStreams(added: readonly string[], fleet: ChaosFleet, beliefs: ReadonlyMap<string, Beliefs>, state: ServiceState): Verdict {
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
      const owner = pending && beliefs.get(pending.consumer);
      if (!pending) violations.push(`${show(stream)} (entry ${id}) is not pending under anyone: never assigned`);
      else if (!owner || !state.sessions.has(pending.consumer)) violations.push(`${show(stream)} is orphaned: pending under ${pending.consumer}, which is gone`);
      else if (owner.get(stream) !== id) {
        const granted = state.owners.get(stream) === id ? 'granted (in the owners hash)' : 'delivered but never granted';
        violations.push(`${show(stream)} is orphaned: pending under ${pending.consumer}, which runs but does not know it owns it (${granted})`);
      } else owned++;
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
