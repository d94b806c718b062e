/**
 * Guarantee (c), bounded takeover: after a consumer is killed or stalled, each stream it held is granted again
 * (a higher fencing token, to any consumer, the victim's own later incarnation included) within heartbeatMs plus a
 * bound. Times come from the consumers' reports (their wall clock) against the parent's clock at the fault.
 */
import type { ChaosFleet, Member } from './chaos-fleet.js';

export type FaultKind = 'kill' | 'stall' | 'close';

export interface Fault {
  readonly kind: FaultKind;
  readonly member: Member;
  /** Date.now() just before the signal or command. */
  readonly at: number;
  /** What the victim held then, by its reports: stream -> token of its lease. */
  readonly held: ReadonlyMap<string, number>;
  /**
   * Kill and stall: the LBS entries pending under the victim in Redis just after the signal (filled in then),
   * granted or only delivered. Each is a death of an owner of that entry: what the poison count may count.
   */
  readonly pending: Set<string>;
}

export function faultOf(kind: FaultKind, member: Member): Fault {
  const held = new Map([...member.consumer.owned()].map(([stream, { token }]) => [stream, token]));
  return { kind, member, at: Date.now(), held, pending: new Set() };
}

export interface Takeover {
  /** Slowest stream: ms from the fault to its next grant (undefined when nothing was held). */
  worstMs: number | undefined;
  /** Streams not granted again (yet). */
  missing: string[];
}

/** How long the fleet took to grant the streams a fault left behind, by the reports so far. */
export function takeoverOf(fault: Fault, fleet: ChaosFleet): Takeover {
  const next = new Map<string, number>();
  for (const { consumer } of fleet.members) {
    for (const report of consumer.reports) {
      if (report.event !== 'streamAdded') continue;
      const token = fault.held.get(report.stream);
      if (token === undefined || report.token <= token) continue;
      next.set(report.stream, Math.min(next.get(report.stream) ?? Infinity, report.at));
    }
  }
  let worstMs: number | undefined;
  const missing: string[] = [];
  for (const stream of fault.held.keys()) {
    const at = next.get(stream);
    if (at === undefined) missing.push(stream);
    else worstMs = Math.max(worstMs ?? 0, at - fault.at);
  }
  return { worstMs, missing };
}
