/**
 * A consumer stalled while its blocking read of the LBS is outstanding. Its reader waits in
 * `XREADGROUP ... BLOCK 5000` on a connection of its own; the process is stopped (SIGSTOP) for longer than a
 * heartbeat, so its session ends and its streams are taken over, then resumed (SIGCONT): it notices the loss by
 * its own clock and registers a new incarnation. The old read is still outstanding in Redis all along; an entry
 * added now is delivered to it, i.e. pending under the consumer's id. That entry must be granted within the
 * takeover bound (ChaosRun.expectGrant), not left pending under a live consumer with no lease until some later
 * fault happens to move it; the end-state invariants catch it too when nothing does.
 *
 * Every step waits on what can be observed: the consumers' connections carry the name `fleet.clientName(id)`
 * (CLIENT SETNAME, passed on to the library's duplicates), and the reader's is the one blocked in XREADGROUP
 * (`CLIENT LIST`: `cmd=xreadgroup`, flag `b`); the new incarnation is the new nonce in the session key.
 */
import { keysFor } from '../../lib/index.js';
import { BLOCK_MS } from '../../lib/lbs-reader.js';
import type { Member } from './chaos-fleet.js';
import { blockedRead } from './chaos-faults.js';
import type { Random } from './chaos-random.js';
import type { ChaosRun } from './chaos-run.js';
import type { Fault } from './chaos-takeover.js';
import { sleep, waitFor } from './wait.js';

export interface BlockedReadStall {
  readonly fault: Fault;
  /** The consumer registered a new incarnation after it was resumed. */
  readonly renewed: boolean;
  /** The entry the old read got, of those added after the renewal (the case the fault is for). */
  readonly oldReadServed: { stream: string; lbsId: string } | undefined;
  /** Streams added to wake the blocked reads, in order. */
  readonly woken: string[];
}

/**
 * Stalls one of `candidates` (drawn with `random` among those whose reader is blocked, and blocked for less than a
 * second, so that the read outlasts the stall) for `stallMs`, resumes it, waits for its new incarnation, then adds
 * streams one at a time until its old read has been served: each XADD wakes the reader that has waited longest,
 * and every other reader goes back to the end of the line. Then waits (up to the takeover bound) for that entry to
 * be granted. Undefined when no candidate's reader was blocked within one blocking period.
 */
export async function stallDuringBlockedRead(
  run: ChaosRun,
  candidates: readonly Member[],
  random: Random,
  stallMs: number,
): Promise<BlockedReadStall | undefined> {
  if (stallMs > BLOCK_MS - 2000) throw new RangeError(`a stall of ${stallMs} ms would outlast the blocking read (${BLOCK_MS} ms)`);
  const { fleet, admin } = run;
  // The order of preference comes from the seed; which candidate is blocked first comes from the timing.
  const order = [...candidates];
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const target = await waitFor(
    async () => {
      for (const member of order) {
        if (member.state !== 'live') continue;
        const read = await blockedRead(admin, fleet.clientName(member.id));
        // idle counts whole seconds: 0 means the read began less than a second ago, so it has 4 s or more to go.
        if (read?.idleSeconds === 0) return member;
      }
      return undefined;
    },
    { timeoutMs: BLOCK_MS + 1000, intervalMs: 50, message: 'a reader blocked in XREADGROUP' },
  ).catch(() => undefined);
  if (!target) return undefined;

  const sessionKey = keysFor(run.service).sessionPrefix + target.id;
  const nonceBefore = await admin.get(sessionKey);
  const fault = await run.fault('stall', target);
  // The stall itself: longer than a heartbeat, so that the session ends.
  await sleep(stallMs);
  fleet.resume(target);
  const renewed = await waitFor(
    async () => {
      const nonce = await admin.get(sessionKey);
      return nonce !== null && nonce !== nonceBefore;
    },
    { timeoutMs: 5 * run.heartbeatMs, message: `${target.id} to register a new incarnation` },
  ).then(() => true, () => false);
  // A round trip through the child's event loop: it answers after it has handled the reply to its registration,
  // and so after it has sent the call that takes back what its previous incarnation held. An entry delivered
  // before that call would simply be taken back with the rest.
  await target.consumer.request({ command: 'owned' });

  const woken: string[] = [];
  let oldReadServed: { stream: string; lbsId: string } | undefined;
  const { lbs, group } = keysFor(run.service);
  for (let attempt = 0; attempt < fleet.running().length + 2; attempt++) {
    if (!(await blockedRead(admin, fleet.clientName(target.id)))) break;
    const { stream, lbsId } = await run.addStream();
    woken.push(stream);
    const [pending] = (await admin.sendCommand(['XPENDING', lbs, group, lbsId, lbsId, '1'])) as Array<[string, string]>;
    if (pending?.[1] === target.id) {
      oldReadServed = { stream, lbsId };
      run.expectGrant(lbsId, stream, `delivered to ${target.id}'s blocking read from before its stall`);
      break;
    }
  }
  // Nothing else happens to the fleet until the entry is granted or the bound has passed: a later fault of the
  // consumer (a pause, a kill, another stall) would take the entry back and hide whether the reader lost it.
  if (oldReadServed) {
    const { lbsId } = oldReadServed;
    await waitFor(() => run.grantedAt(lbsId) !== undefined, { timeoutMs: run.boundMs, message: `${lbsId} to be granted` }).catch(() => undefined);
  }
  return { fault, renewed, oldReadServed, woken };
}
