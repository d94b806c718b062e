/**
 * A restart in a chaos run: close({ restart: true }) of a consumer, which keeps its streams for its next process
 * under the same consumerId for restartGraceMs, then a new process under that id, at once (within the grace: it
 * takes the streams back, origin 'restart', and nobody else takes them meanwhile) or once the grace has run out (the
 * others take the streams over; nobody may before). `checkRestarts` holds each restart to that, by the reports.
 *
 * The test sees from Redis whether the streams were kept at all: close() keeps them only when its session is still
 * valid (a pause just before may have ended it, and close() then ends like a crash, with no grace).
 */
import { keysFor } from '../../lib/index.js';
import type { ChaosFleet, Member } from './chaos-fleet.js';
import { show } from './chaos-invariants.js';
import type { MembershipChange } from './chaos-membership.js';
import type { NodeRedis } from './fleet.js';
import { sleep, waitFor } from './wait.js';

export interface Restart {
  readonly old: Member;
  /** When close({ restart: true }) was sent (parent clock): the grace ends no sooner than restartGraceMs after. */
  readonly closedAt: number;
  /** The streams the old process gave up closing (reason 'close'), with the tokens of its leases. */
  readonly kept: ReadonlyMap<string, number>;
  /** Whether Redis held the restart marker once close() returned (else the streams were not kept: see above). */
  readonly reserved: boolean;
  /** Whether the test started the new process at once, meaning it to come back within the grace. */
  readonly atOnce: boolean;
  /** The new process under the same id. */
  readonly next: Member;
  /** What went wrong with close() itself, if anything. */
  readonly failed?: string;
}

export interface RestartSettings {
  readonly graceMs: number;
  /** Start the new process at once; otherwise once the grace has run out and the others took the streams over. */
  readonly atOnce: boolean;
  /** How long to wait for the streams to be granted again (the takeover bound, say). */
  readonly grantedWithinMs: number;
}

/** Restarts `member` (see above); resolves once the new process has its streams back, or the others have them. */
export async function restart(fleet: ChaosFleet, admin: NodeRedis, member: Member, settings: RestartSettings): Promise<Restart> {
  const { graceMs, atOnce, grantedWithinMs } = settings;
  const closedAt = Date.now();
  const { failed } = await fleet.stop(member, 'restart');
  const stoppedAt = Date.now();
  const marker = await admin.get(keysFor(fleet.options.serviceName).sessionPrefix + member.id);
  const reserved = marker?.startsWith('restarting:') ?? false;
  const kept = new Map(
    member.consumer.reports.flatMap((r) => (r.event === 'streamReleased' && r.reason === 'close' ? [[r.stream, r.token] as const] : [])),
  );
  const grantedAgain = (by: (grantee: Member) => boolean): boolean =>
    [...kept].every(([stream, token]) => grantsOf(fleet.members, stream, token).some(({ member: grantee }) => by(grantee)));
  if (!atOnce) {
    await sleep(Math.max(0, closedAt + graceMs - Date.now()));
    if (reserved) fleet.membership.record('graceExpired', member, closedAt + graceMs, stoppedAt + graceMs);
    await waitFor(() => grantedAgain((grantee) => grantee.id !== member.id), { timeoutMs: grantedWithinMs }).catch(() => undefined);
  }
  const next = await fleet.spawn(member.id);
  if (atOnce) await waitFor(() => grantedAgain((grantee) => grantee === next), { timeoutMs: grantedWithinMs }).catch(() => undefined);
  return { old: member, closedAt, kept, reserved, atOnce, next, ...(failed ? { failed } : {}) };
}

export interface RestartsVerdict {
  violations: string[];
  /** Restarts whose new process registered within the grace, and of those, how many a pause disturbed. */
  withinGrace: number;
  disturbed: number;
  /** Restarts whose new process came after the grace. */
  pastGrace: number;
  /** Restarts whose close() found its session ended already, so that nothing was kept. */
  unreserved: number;
}

/**
 * Within the grace (the new process was ready before restartGraceMs had passed since close() was sent, so it
 * registered while the streams were kept): it got every kept stream back with origin 'restart', and nobody else was
 * granted one before it. A pause after it registered ends its session like any other, and its streams may then be
 * taken over: such a restart is only counted as disturbed. Past the grace: nobody else was granted a kept stream
 * before the grace had run out.
 */
export function checkRestarts(restarts: readonly Restart[], members: readonly Member[], changes: readonly MembershipChange[], graceMs: number): RestartsVerdict {
  const verdict: RestartsVerdict = { violations: [], withinGrace: 0, disturbed: 0, pastGrace: 0, unreserved: 0 };
  for (const { old, closedAt, kept, reserved, next } of restarts) {
    if (!reserved) {
      verdict.unreserved++;
      continue;
    }
    const graceEnd = closedAt + graceMs;
    const readyAt = next.consumer.reports.find((r) => r.event === 'ready')?.at;
    const cameBack = readyAt !== undefined && readyAt < graceEnd;
    const backAt = (stream: string, token: number): number | undefined => grantsOf([next], stream, token)[0]?.at;
    const lastBack = Math.max(closedAt, ...[...kept].map(([stream, token]) => backAt(stream, token) ?? Infinity));
    const disturbed = cameBack && changes.some((c) => c.kind === 'pause' && c.until >= closedAt && c.at <= lastBack);
    if (cameBack) verdict.withinGrace++;
    else verdict.pastGrace++;
    if (disturbed) {
      verdict.disturbed++;
      continue;
    }
    for (const [stream, token] of kept) {
      const grants = grantsOf(members, stream, token);
      const back = grants.find((grant) => grant.member === next);
      // Within the grace nobody else until the new process has it back; past it, nobody else before its end.
      const until = cameBack ? (back?.at ?? Infinity) : graceEnd;
      const early = grants.find((grant) => grant.member !== next && grant.at < until);
      const what = `${show(stream)} kept by ${old.id}'s close({ restart: true }) at ${closedAt}`;
      if (early) {
        verdict.violations.push(`${what} was granted to ${early.member.id} (${early.origin}) at ${early.at}, ${cameBack ? `before ${old.id}'s next process (ready at ${readyAt}) took it back` : `within the grace (until ${graceEnd})`}`);
      } else if (cameBack && back?.origin !== 'restart') {
        const got = back ? `with origin '${back.origin}'` : 'not';
        verdict.violations.push(`${what}: its next process, ready within the grace at ${readyAt}, got it back ${got} (expected origin 'restart')`);
      }
    }
  }
  return verdict;
}

/** The grants of `stream` after the lease with `token`, in token order, with who was granted it. */
function grantsOf(members: readonly Member[], stream: string, token: number): Array<{ member: Member; at: number; origin: string; token: number }> {
  return members
    .flatMap((member) =>
      member.consumer.reports.flatMap((r) =>
        r.event === 'streamAdded' && r.stream === stream && r.token > token ? [{ member, at: r.at, origin: r.origin, token: r.token }] : [],
      ),
    )
    .sort((a, b) => a.token - b.token);
}
