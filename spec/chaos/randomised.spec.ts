/**
 * Chaos 7: a randomised run. Consumers (child processes) are killed (SIGKILL), stalled (SIGSTOP, then SIGCONT),
 * stalled while their blocking read of the LBS is outstanding, closed, done() and doneStream'd at random, and the
 * whole server pauses (DEBUG SLEEP), while streams keep arriving together with LBS entries at the edges of JSON
 * (spec/support/json-edge-cases.ts), well formed or not; at the end every guarantee must hold
 * (spec/support/chaos-invariants.ts). The seed is printed first: replay a run with CHAOS_SEED=<seed> (and
 * CHAOS_DURATION_MS to change its length).
 *
 * Membership changes, with rebalancing on (the default): consumers join (a new process, sometimes under the id of
 * one gone), leave (close()), restart (close({ restart: true }), then a new process under the same consumerId at
 * once, within its restartGraceMs, or once the grace has run out: spec/support/chaos-restart.ts) and drain (drain(),
 * a while drained, then resume() or close(): spec/support/chaos-drain.ts), and quiet spells let the fleet even out.
 * Besides the guarantees above: no stream is moved twice by rebalancing without a change of membership between
 * (spec/support/chaos-moves.ts, with the changes timed as the test makes them: chaos-membership.ts); a consumer back
 * within its grace has its streams back, origin 'restart', and nobody had them meanwhile; a consumer whose drain()
 * kept nothing owns nothing and takes nothing until resume().
 *
 * Poison or pause: a second, small service shares the server, the pause witness (2 consumers, 20 streams,
 * maxDeliveries 3): it goes through every server pause and nothing else, and the run pauses the server more often
 * than its maxDeliveries. A pause longer than a heartbeat ends every session at once, yet kills nobody. The rule
 * (chaos-invariants.ts, UNSEEN_DELIVERIES): a stream may be dead-lettered as poison only when the test saw its
 * owners die at least maxDeliveries - 1 times, a death being the entry pending in Redis under a consumer just
 * after that consumer was SIGKILLed or SIGSTOPped past its session. Server pauses, close() hand-offs and doneStream
 * never count. So a stream that saw only pauses, as every stream of the witness, may never be poison.
 *
 * CHAOS_WITHOUT=pause,stallBlocked,edgeEntries leaves those faults out, to tell the library's failures from the
 * harness's when replaying a seed; it is refused under CI, which always runs every fault.
 */
import { expect, it } from 'vitest';
import { stallDuringBlockedRead } from '../support/chaos-blocked-read-stall.js';
import { checkDrains, drainThenEnd } from '../support/chaos-drain.js';
import { pauseServer } from '../support/chaos-faults.js';
import type { Member } from '../support/chaos-fleet.js';
import { checkMoves, movesOf } from '../support/chaos-moves.js';
import { Random } from '../support/chaos-random.js';
import { checkRestarts, restart, type Restart } from '../support/chaos-restart.js';
import { ChaosRun, useChaosServer } from '../support/chaos-run.js';
import type { Fault } from '../support/chaos-takeover.js';
import { jsonEdgeCases } from '../support/json-edge-cases.js';
import { sleep, waitFor } from '../support/wait.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20261128);
const DURATION_MS = Number(process.env.CHAOS_DURATION_MS ?? 40_000);
const CONSUMERS = 5;
const STREAMS = 200;
/** Never fewer healthy consumers than this: someone must be there to take over. */
const MIN_HEALTHY = 2;
const HEARTBEAT_MS = 1000;
/** The pause witness: its consumers, streams and maxDeliveries (small, so that a few pauses exceed it). */
const WITNESS_CONSUMERS = 2;
const WITNESS_STREAMS = 20;
const WITNESS_MAX_DELIVERIES = 3;
/** A server pause and a stall during a blocking read: each longer than a heartbeat, so that sessions end. */
const PAUSE_MS = 1.5 * HEARTBEAT_MS;
const BLOCKED_STALL_MS = 1.5 * HEARTBEAT_MS;
/** Long enough for a new process to start within it (a second or two on a loaded machine), short enough that a
 * restart past it ends within the run. */
const RESTART_GRACE_MS = 5 * HEARTBEAT_MS;
/** How late a change of membership may act in Redis after the test made it: a death is noticed up to a heartbeat
 * after the session's last extension, and a move is reported a little after its script ran. */
const CHANGE_GRACE_MS = 2 * HEARTBEAT_MS;
/** The fleet has evened out once no stream has moved for this long (the last stable period waits for it). */
const QUIET_MS = 3 * HEARTBEAT_MS;

type Action = 'kill' | 'stall' | 'stallBlocked' | 'pause' | 'join' | 'leave' | 'restart' | 'drain' | 'done' | 'doneStream' | 'rest';
type Optional = 'pause' | 'stallBlocked' | 'edgeEntries';

/** Each run has at least this many of these actions, whatever it draws: more pauses than the witness's
 * maxDeliveries, and restarts and drains. */
const AT_LEAST: Partial<Record<Action, number>> = { pause: WITNESS_MAX_DELIVERIES + 1, stallBlocked: 2, restart: 2, drain: 1 };
/** About how long one of those actions takes, with the gap after it. */
const FAULT_MS = 3000;
/** How long past its end the run may go on doing the actions still owed (a stall during a blocking read can take
 * twice FAULT_MS on a loaded machine). */
const OVERTIME_MS = 20_000;

const WITHOUT = new Set((process.env.CHAOS_WITHOUT ?? '').split(',').filter((name) => name !== '')) as Set<Optional>;
/** For the first and the summary line. */
const without = WITHOUT.size > 0 ? ` without=${[...WITHOUT].join(',')}` : '';

// DEBUG SLEEP needs the DEBUG command, which Redis 7 refuses unless the server enables it.
const chaos = useChaosServer(['--enable-debug-command', 'local']);

it(`keeps every guarantee through ${DURATION_MS / 1000} s of random faults and membership changes (seed ${SEED})`, async () => {
  const unknown = [...WITHOUT].filter((name) => !['pause', 'stallBlocked', 'edgeEntries'].includes(name));
  if (unknown.length > 0) throw new Error(`CHAOS_WITHOUT: unknown ${unknown.join(', ')} (pause, stallBlocked, edgeEntries)`);
  if (WITHOUT.size > 0 && process.env.CI) throw new Error('CHAOS_WITHOUT leaves faults out: CI runs every fault');
  console.log(`[chaos] randomised: seed=${SEED} duration=${DURATION_MS}ms${without} (replay: CHAOS_SEED=${SEED} npm run test:chaos)`);
  const run = await chaos.start({ heartbeatMs: HEARTBEAT_MS, autoClaim: true, restartGraceMs: RESTART_GRACE_MS });
  const witness = WITHOUT.has('pause')
    ? undefined
    : await ChaosRun.start(chaos.server.url, { heartbeatMs: HEARTBEAT_MS, autoClaim: true, maxDeliveries: WITNESS_MAX_DELIVERIES });
  try {
    await runFaults(run, witness);
  } finally {
    await witness?.stop();
  }
});

async function runFaults(run: ChaosRun, witness: ChaosRun | undefined): Promise<void> {
  const random = new Random(SEED);
  await pauseServer(run.admin, 0).catch((error: unknown) => {
    throw new Error(`DEBUG is refused (start the server with --enable-debug-command local): ${String(error)}`);
  });
  const fleet = run.fleet;
  await fleet.spawnMany(CONSUMERS);
  if (witness) {
    await witness.fleet.spawnMany(WITNESS_CONSUMERS);
    await witness.addStreams(WITNESS_STREAMS);
    await witness.waitOwned(WITNESS_STREAMS);
  }
  // Drawn once from the run's Random, so the same seed writes the same entries in the same order.
  const edgeCases = WITHOUT.has('edgeEntries') ? [] : jsonEdgeCases(new Random(random.int(0, 2 ** 32 - 1)), { maxEntryBytes: run.maxEntryBytes });

  const weights: Record<Action, number> = {
    kill: 3,
    stall: 2,
    stallBlocked: WITHOUT.has('stallBlocked') ? 0 : 2,
    pause: WITHOUT.has('pause') ? 0 : 3,
    join: 4,
    leave: 1,
    restart: 2,
    drain: 2,
    done: 1,
    doneStream: 3,
    rest: 2,
  };
  const counts = Object.fromEntries(Object.keys(weights).map((action) => [action, 0])) as Record<Action, number>;
  let oldReadsServed = 0;
  const background: Array<Promise<unknown>> = [];
  /** Ids of consumers being started or restarted: an id is never reused while its process may still run or start,
   * and a consumer restarting is left alone until it has its streams back. */
  const busy = new Set<string>();
  const restarts: Restart[] = [];
  const stopFailures: string[] = [];
  /** Stalled consumers that did not come back: a violation too, seen where it happened. */
  const notRenewed: string[] = [];
  const healthy = (): Member[] => fleet.live();
  /** Members that may be disrupted now without leaving fewer than MIN_HEALTHY healthy ones. */
  const disruptable = (): Member[] => (healthy().length > MIN_HEALTHY ? healthy().filter((m) => !busy.has(m.id)) : []);
  /** Whether CONSUMERS processes run or are on their way. */
  const full = (): boolean => new Set([...fleet.running().map((m) => m.id), ...busy]).size >= CONSUMERS;

  const act = async (action: Action): Promise<boolean> => {
    const target = random.pick(disruptable());
    switch (action) {
      case 'kill':
        if (!target) return false;
        await run.fault('kill', target);
        return true;
      case 'stall': {
        if (!target) return false;
        await run.fault('stall', target);
        const stallMs = random.int(2, 4) * run.heartbeatMs;
        background.push(sleep(stallMs).then(() => fleet.resume(target)));
        return true;
      }
      case 'stallBlocked': {
        if (!target) return false;
        const stalled = await stallDuringBlockedRead(run, disruptable(), random, BLOCKED_STALL_MS);
        if (!stalled) return false;
        if (!stalled.renewed) notRenewed.push(`${stalled.fault.member.id} did not register a new incarnation within 5 heartbeats of its resume`);
        if (stalled.oldReadServed) oldReadsServed++;
        return true;
      }
      case 'pause':
        await run.pause(PAUSE_MS);
        return true;
      case 'leave':
      case 'done':
        if (!target) return false;
        if (action === 'leave') background.push(run.fault('close', target));
        else background.push(fleet.stop(target, 'done').then(({ failed }) => failed && stopFailures.push(failed)));
        return true;
      case 'join': {
        if (full()) return false;
        const inUse = new Set([...fleet.running().map((m) => m.id), ...busy]);
        const reusable = [...new Set(fleet.members.filter((m) => !inUse.has(m.id)).map((m) => m.id))];
        const id = (random.next() < 0.5 && random.pick(reusable)) || fleet.newId();
        busy.add(id);
        background.push(fleet.spawn(id).finally(() => busy.delete(id)));
        return true;
      }
      case 'restart': {
        if (!target) return false;
        const settings = { graceMs: RESTART_GRACE_MS, atOnce: random.next() < 0.6, grantedWithinMs: 2 * run.boundMs };
        busy.add(target.id);
        const restarted = restart(fleet, run.admin, target, settings).then((done) => {
          restarts.push(done);
          if (done.failed) stopFailures.push(`close({ restart: true }) of ${target.id}: ${done.failed}`);
        });
        background.push(restarted.finally(() => busy.delete(target.id)));
        return true;
      }
      case 'drain': {
        if (!target) return false;
        const then = random.next() < 0.6 ? 'resume' : 'close';
        const settings = { timeoutMs: 5 * run.heartbeatMs, drainedMs: random.int(1, 4) * run.heartbeatMs, then } as const;
        background.push(drainThenEnd(fleet, target, settings).then((failed) => failed && stopFailures.push(failed)));
        return true;
      }
      case 'doneStream': {
        const finisher = random.pick(healthy().filter((m) => m.consumer.owned().size > 0));
        if (!finisher) return false;
        const owned = [...finisher.consumer.owned().keys()];
        const streams = Array.from({ length: random.int(1, 3) }, () => random.pick(owned)!);
        background.push(finisher.consumer.request({ command: 'doneStream', streams: [...new Set(streams)] }));
        return true;
      }
      case 'rest':
        // A quiet spell: the changes under way end, and the fleet evens out with its membership stable.
        await sleep(random.int(2, 4) * run.heartbeatMs);
        return true;
    }
  };

  /** An action still owed (AT_LEAST) when the time left only just fits those owed. */
  const owedNow = (timeLeftMs: number): Action | undefined => {
    const owed = (Object.keys(AT_LEAST) as Action[]).filter((a) => weights[a] > 0 && counts[a] < AT_LEAST[a]!);
    const total = owed.reduce((sum, a) => sum + AT_LEAST[a]! - counts[a], 0);
    return total * FAULT_MS >= timeLeftMs ? owed[0] : undefined;
  };

  const end = Date.now() + DURATION_MS;
  const owedLeft = (): boolean => owedNow(end - Date.now()) !== undefined && Date.now() < end + OVERTIME_MS;
  while (Date.now() < end || owedLeft()) {
    if (run.added.length < STREAMS) await run.addStreams(Math.min(STREAMS - run.added.length, random.int(5, 20)));
    // The producer writes edge cases alongside, a few per batch, until each has been written once.
    for (const edgeCase of edgeCases.splice(0, random.int(2, 5))) await run.addEntry(edgeCase);
    const owed = owedNow(end - Date.now());
    // An action owed needs a consumer to act on: with too few healthy, the fleet grows first.
    const action = owed && owed !== 'pause' && disruptable().length === 0 && !full() ? 'join' : (owed ?? random.weighted<Action>(weights));
    if (await act(action)) counts[action]++;
    await sleep(random.int(300, 1500));
  }
  for (const edgeCase of edgeCases.splice(0)) await run.addEntry(edgeCase);
  await Promise.all(background);
  // Leave a fleet that can take everything over.
  while (fleet.live().length < MIN_HEALTHY) await fleet.spawn();
  // The last stable period: the fleet evens out, then nothing moves.
  const lastMove = (): number => Math.max(0, ...movesOf(fleet.members).map((move) => move.at));
  await waitFor(() => Date.now() - lastMove() >= QUIET_MS, { timeoutMs: 20_000, intervalMs: 100 }).catch(() => undefined);

  // A takeover is held to the bound when nothing else happened to the fleet while it ran: a survivor killed or
  // stalled just after it claimed would report its grant late or never, and the fault would look slower than it was.
  const bound = run.boundMs;
  const changes = fleet.membership.changes;
  const undisturbed = (fault: Fault): boolean => !changes.some((c) => c.member !== fault.member && c.at > fault.at && c.at < fault.at + bound);
  const witnessVerdict = await witness?.settle();
  const witnessSummary = witnessVerdict
    ? ` pause-witness=(streams=${WITNESS_STREAMS} max-deliveries=${WITNESS_MAX_DELIVERIES} owned=${witnessVerdict.owned} ` +
      `dead-lettered=${witnessVerdict.deadLettered} violations=${witnessVerdict.violations.length})`
    : '';
  const { violations } = await run.finish('randomised', {
    checkBound: undisturbed,
    alsoCheck: () => {
      const moves = checkMoves(movesOf(fleet.members), changes, CHANGE_GRACE_MS);
      const back = checkRestarts(restarts, fleet.members, changes, RESTART_GRACE_MS);
      const drains = checkDrains(fleet.members);
      return {
        violations: [...moves.violations, ...back.violations, ...drains.violations],
        summary:
          `membership-changes=${changes.length} moves=${moves.moves} (streams=${moves.streams} most-of-one=${moves.mostOfOne}) ` +
          `restarts=(within-grace=${back.withinGrace} disturbed=${back.disturbed} past-grace=${back.pastGrace} unreserved=${back.unreserved}) ` +
          `drains=${drains.drains} (kept-nothing=${drains.keptNothing})`,
      };
    },
    extra:
      `seed=${SEED}${without} consumers-started=${fleet.members.length} old-reads-served=${oldReadsServed}/${counts.stallBlocked} ` +
      Object.entries(counts).map(([action, n]) => `${action}=${n}`).join(' ') +
      ` errors=(${fleet.errorTally()})${witnessSummary}`,
  });
  // The run did what it is for (a harness check, before the verdict).
  for (const [action, least] of Object.entries(AT_LEAST) as Array<[Action, number]>) {
    if (weights[action] > 0) expect(counts[action], `${action} actions`).toBeGreaterThanOrEqual(least);
  }
  expect([...violations, ...notRenewed, ...(witnessVerdict?.violations ?? []).map((v) => `pause witness: ${v}`)]).toEqual([]);
  expect(stopFailures).toEqual([]);
}
