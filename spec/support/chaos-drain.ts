/**
 * A drain in a chaos run: drain() of a live consumer, a while drained, then resume() or close(). `checkDrains`
 * holds every drain to its promise, by the consumer's reports: when drain() resolved having kept nothing, the
 * consumer owned nothing (by its events and by `client.owned()`), and it took no stream from then until it resumed
 * (the child reports `resuming` just before it calls resume()) or left.
 */
import type { ChaosFleet, Member } from './chaos-fleet.js';
import { show } from './chaos-invariants.js';
import { sleep } from './wait.js';

export interface DrainSettings {
  /** drain()'s timeoutMs. */
  readonly timeoutMs: number;
  /** How long the consumer stays drained before it resumes or leaves. */
  readonly drainedMs: number;
  readonly then: 'resume' | 'close';
}

/** Drains `member`, waits, then resumes it or closes it; resolves with what failed, if anything. */
export async function drainThenEnd(fleet: ChaosFleet, member: Member, { timeoutMs, drainedMs, then }: DrainSettings): Promise<string | undefined> {
  const drained = await fleet.drain(member, timeoutMs);
  if (drained.failed) return `drain() of ${member.id} failed: ${drained.failed}`;
  await sleep(drainedMs);
  const ended = then === 'resume' ? await fleet.resumeDrained(member) : await fleet.stop(member, 'close');
  return ended.failed && `${then}() of ${member.id} after drain() failed: ${ended.failed}`;
}

export interface DrainsVerdict {
  violations: string[];
  /** drain() calls that resolved, and how many of them kept nothing. */
  drains: number;
  keptNothing: number;
}

export function checkDrains(members: readonly Member[]): DrainsVerdict {
  const verdict: DrainsVerdict = { violations: [], drains: 0, keptNothing: 0 };
  for (const { id, consumer } of members) {
    const { reports } = consumer;
    reports.forEach((drained, i) => {
      if (drained.event !== 'drained') return;
      verdict.drains++;
      if (drained.kept.length > 0) return;
      verdict.keptNothing++;
      const owned = [...consumer.owned(i).keys()];
      if (owned.length > 0 || drained.owned.length > 0) {
        verdict.violations.push(
          `${id}: drain() resolved at ${drained.at} with kept = [], yet it owned ${[...new Set([...owned, ...drained.owned])].map(show).join(', ')} ` +
            `(by its events: ${owned.length}, by client.owned(): ${drained.owned.length})`,
        );
      }
      for (const later of reports.slice(i + 1)) {
        if (later.event === 'resuming' || later.event === 'stopped') break;
        if (later.event === 'streamAdded') {
          verdict.violations.push(
            `${id}: drain() resolved at ${drained.at} with kept = [], yet it took ${show(later.stream)} (${later.origin}, token ${later.token}) at ${later.at}, before resume()`,
          );
        }
      }
    });
  }
  return verdict;
}
