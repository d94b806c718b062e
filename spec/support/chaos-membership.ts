/**
 * The membership changes of a chaos fleet, as the test made them, timed by the parent's clock: what rebalancing may
 * react to. Each change is an interval, from when the test began it (a signal or command sent, a process started)
 * to when it had surely begun to act in Redis as far as the test can tell (a process ready, a command answered, a
 * pause over): the library counts the change (its membership counter) somewhere after `at`, at the latest a
 * session's expiry plus a sweep after `until` (a death is noticed when the session runs out).
 */
import type { Member } from './chaos-fleet.js';

/**
 * join: a process registers (new, or under an earlier one's id). kill, stall: a consumer's session ends (a stall
 * of a few heartbeats always ends it). return: a stalled consumer resumes and registers a new incarnation. leave:
 * close(). restart: close({ restart: true }). graceExpired: a restarting consumer's grace ran out with no process
 * back under its id. done: done(). drain, resume: drain() and resume(). pause: the server paused past every
 * session, one change per consumer then running.
 */
export type ChangeKind = 'join' | 'kill' | 'stall' | 'return' | 'leave' | 'restart' | 'graceExpired' | 'done' | 'drain' | 'resume' | 'pause';

export interface MembershipChange {
  readonly kind: ChangeKind;
  readonly member: Member;
  /** Date.now() of the parent when the test began the change. */
  readonly at: number;
  /** Date.now() of the parent when the change had surely begun to act (`at` for a signal). */
  readonly until: number;
}

export class MembershipLog {
  readonly changes: MembershipChange[] = [];

  record(kind: ChangeKind, member: Member, at = Date.now(), until = at): void {
    this.changes.push({ kind, member, at, until });
  }

  /** Runs `work` (a command to the member, say) and records the change as lasting from its start to its end. */
  async during<T>(kind: ChangeKind, member: Member, work: () => Promise<T>): Promise<T> {
    const at = Date.now();
    try {
      return await work();
    } finally {
      this.record(kind, member, at, Date.now());
    }
  }
}
