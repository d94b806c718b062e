/**
 * Chaos 8: processing under faults. Producers append to 200 data streams all along while 4 consumer processes
 * process them with `client.run({ eachEntry })`, each handler recording its start and its end in a Redis stream of
 * the test (spec/support/handler-records.ts). At random times, from a seeded generator, a consumer that holds
 * streams is killed (SIGKILL) and replaced, stalled (SIGSTOP for 2 to 3 heartbeats, then SIGCONT), or closed with
 * close() and replaced; a replacement takes the id of the process it replaces half of the time. Then the producers
 * stop, the fleet drains (every stream's committed position reaches its last entry), and the guarantees of run()
 * are checked from the data streams and the records (spec/support/chaos-processing.ts): every entry processed at
 * least once; no handler started under a token once a later owner of the stream had started; an entry processed
 * twice only when its earlier owner had not committed it (in flight, or resolved within commitIntervalMs plus a
 * margin of its end; never after a close()); entries in order under each token.
 *
 * The seed is printed first: replay a run with CHAOS_SEED=<seed> (and CHAOS_DURATION_MS to change its length).
 */
import { expect, it } from 'vitest';
import { keysFor } from '../../lib/index.js';
import type { Member } from '../support/chaos-fleet.js';
import { checkProcessing, type ProcessingVerdict } from '../support/chaos-processing.js';
import { Random } from '../support/chaos-random.js';
import { useChaosServer, type ChaosRun } from '../support/chaos-run.js';
import type { FaultKind } from '../support/chaos-takeover.js';
import { serviceName, type NodeRedis } from '../support/fleet.js';
import { readHandlerRecords } from '../support/handler-records.js';
import { StreamProducers } from '../support/stream-producers.js';
import { sleep, waitFor } from '../support/wait.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20261201);
const DURATION_MS = Number(process.env.CHAOS_DURATION_MS ?? 40_000);
const CONSUMERS = 4;
const STREAMS = 200;
const HEARTBEAT_MS = 1000;
const COMMIT_INTERVAL_MS = 100;
/** Slack on the duplicate bound for a loaded 2-core machine: a commit's timer or script late, a signal late. The
 * time a process is starved of CPU does not count against it (see chaos-processing.ts). */
const MARGIN_MS = 500;
/** Entries per second, all producers together: about 2 per stream. */
const APPENDS_PER_SECOND = 400;
/** A handler works up to this long between its start and end records, so that some are in flight at a fault. */
const MAX_WORK_MS = 10;
/** Never fewer live (running, unstalled) consumers than this: someone must be there to take over. */
const MIN_LIVE = 2;
/** Each kind of fault at least this many times in a run (a check of the harness). */
const AT_LEAST = 2;
/** How long the fleet may take to process and commit everything once the producers have stopped. */
const DRAIN_TIMEOUT_MS = 30_000;

const chaos = useChaosServer();

const TITLE = `processes every entry, fenced, in order, duplicates bounded, through ${DURATION_MS / 1000} s of kills, stalls and closes`;

it(`${TITLE} (seed ${SEED})`, async () => {
  const replay = `CHAOS_SEED=${SEED} npm run test:chaos -- spec/chaos/processing.spec.ts`;
  console.log(`[chaos] processing: seed=${SEED} duration=${DURATION_MS}ms (replay: ${replay})`);
  const random = new Random(SEED);
  const recordsKey = `handler-records:${serviceName()}`;
  // A stream whose owners die maxDeliveries times is dead-lettered as poison, and nobody processes it any more;
  // with faults aimed at the consumers that hold streams, a stream may see dozens. Poison is the randomised run's
  // to check: here every stream stays in the fleet.
  const run = await chaos.start(
    { heartbeatMs: HEARTBEAT_MS, autoClaim: true, maxDeliveries: 1000 },
    { processing: { recordsKey, run: { commitIntervalMs: COMMIT_INTERVAL_MS }, maxWorkMs: MAX_WORK_MS } },
  );
  const t0 = Date.now();
  await run.fleet.spawnMany(CONSUMERS);
  const streams = await run.addStreams(STREAMS);
  const producers = await StreamProducers.start(chaos.server.url, {
    streams,
    producers: 2,
    perSecond: APPENDS_PER_SECOND,
    // Drawn once from the run's generator: the faults drawn from it are the same for a seed whatever the producers do.
    random: new Random(random.int(0, 2 ** 32 - 1)),
  });
  let faults: FaultsDone;
  try {
    await run.waitOwned(STREAMS);
    faults = await injectFaults(run, random);
  } finally {
    await producers.stop();
  }

  const appended = await appendedEntries(run.admin, streams);
  const drain = await drained(run, appended);
  const records = await readHandlerRecords(run.admin, recordsKey);
  const verdict = checkProcessing(
    appended,
    records,
    run.faults.map((fault) => ({ kind: fault.kind, incarnation: String(fault.member.consumer.pid), at: fault.at })),
    { commitIntervalMs: COMMIT_INTERVAL_MS, heartbeatMs: HEARTBEAT_MS, marginMs: MARGIN_MS },
    t0,
  );
  const violations = [...drain.violations, ...verdict.violations];
  console.log(summary(run, verdict, faults, drain.ms, violations.length));
  for (const violation of violations.slice(0, 20)) console.log(`[chaos] processing violation: ${violation}`);
  if (violations.length > 0) {
    for (const message of run.fleet.errorMessages(['SessionLostError']).slice(0, 20)) console.log(`[chaos] processing: reported by ${message}`);
  }

  // The run did what it is for (a harness check, before the verdict).
  expect(producers.appended, 'entries appended').toBe(verdict.entries);
  for (const kind of ['kill', 'stall', 'close'] as const) expect(faults.counts[kind], `${kind} faults`).toBeGreaterThanOrEqual(AT_LEAST);
  expect(faults.stopFailures).toEqual([]);
  expect(violations).toEqual([]);
});

interface FaultsDone {
  counts: Record<FaultKind, number>;
  /** close() calls that failed. */
  stopFailures: string[];
}

/**
 * For DURATION_MS, a fault every 0.8 to 2.5 s on a live consumer that holds streams, as long as MIN_LIVE others stay
 * live; then waits for every stalled consumer to be resumed and every replacement to have started.
 */
async function injectFaults(run: ChaosRun, random: Random): Promise<FaultsDone> {
  const { fleet } = run;
  const counts: Record<FaultKind, number> = { kill: 0, stall: 0, close: 0 };
  const stopFailures: string[] = [];
  const background: Array<Promise<unknown>> = [];
  /** Ids of consumers being started: an id is never reused while a process may still run under it. */
  const spawning = new Set<string>();
  // Streams move only when their owner fails, so a replacement or a resumed consumer holds none at first: a fault
  // on it would test nothing.
  const disruptable = (): Member[] => (fleet.live().length > MIN_LIVE ? fleet.live().filter((m) => m.consumer.owned().size > 0) : []);
  /** Starts a replacement, under the victim's id when `sameId` (the new process takes back what is still pending
   * under it) and that id is free. */
  const replace = (victim: Member, sameId: boolean): void => {
    const inUse = new Set([...fleet.running().map((m) => m.id), ...spawning]);
    const id = sameId && !inUse.has(victim.id) ? victim.id : fleet.newId();
    spawning.add(id);
    background.push(fleet.spawn(id).finally(() => spawning.delete(id)));
  };
  // The kinds come in blocks of three in a random order, so that every kind gets its share whatever the seed.
  const kinds: FaultKind[] = [];
  const nextKind = (): FaultKind => {
    if (kinds.length === 0) {
      const block: FaultKind[] = ['kill', 'stall', 'close'];
      while (block.length > 0) kinds.push(block.splice(random.int(0, block.length - 1), 1)[0]!);
    }
    return kinds.shift()!;
  };

  const end = Date.now() + DURATION_MS;
  while (Date.now() < end) {
    await sleep(random.int(800, 2500));
    const kind = nextKind();
    const candidates = await waitFor(() => disruptable().length > 0 && disruptable(), {
      timeoutMs: 30_000,
      message: `a live consumer holding streams to ${kind}, and ${MIN_LIVE} others live`,
    });
    const target = random.pick(candidates)!;
    // Drawn now rather than when a close() ends, so that the draws keep their order whatever the timing.
    const sameId = random.next() < 0.5;
    const stallMs = random.int(2 * HEARTBEAT_MS, 3 * HEARTBEAT_MS);
    counts[kind]++;
    if (kind === 'kill') {
      await run.fault('kill', target);
      replace(target, sameId);
    } else if (kind === 'stall') {
      await run.fault('stall', target);
      background.push(sleep(stallMs).then(() => fleet.resume(target)));
    } else {
      background.push(
        run.fault('close', target).then(
          () => replace(target, sameId),
          (error: unknown) => stopFailures.push(String(error)),
        ),
      );
    }
  }
  // A close() that ends starts its replacement then: wait for those too.
  while (background.length > 0) await Promise.all(background.splice(0));
  return { counts, stopFailures };
}

/** Every entry of each stream, in order: what the producers appended. */
async function appendedEntries(redis: NodeRedis, streams: readonly string[]): Promise<Map<string, string[]>> {
  const entries = await Promise.all(streams.map((stream) => redis.xRange(stream, '-', '+')));
  return new Map(streams.map((stream, i) => [stream, entries[i]!.map((entry) => entry.id)]));
}

/** Waits until every stream's committed position is its last entry: the fleet has processed and committed all. */
async function drained(run: ChaosRun, appended: ReadonlyMap<string, readonly string[]>): Promise<{ ms: number; violations: string[] }> {
  const start = Date.now();
  const behind = async (): Promise<string[]> => {
    const positions = await run.admin.hGetAll(keysFor(run.service).positions);
    return [...appended].filter(([stream, ids]) => positions[stream] !== ids.at(-1)).map(([stream]) => stream);
  };
  const late = await waitFor(async () => (await behind()).length === 0, { timeoutMs: DRAIN_TIMEOUT_MS }).then(
    () => [],
    () => behind(),
  );
  const ms = Date.now() - start;
  if (late.length === 0) return { ms, violations: [] };
  const streams = `${late.slice(0, 5).join(', ')}${late.length > 5 ? ', ...' : ''}`;
  return { ms, violations: [`not drained within ${DRAIN_TIMEOUT_MS} ms: the committed position is behind on ${late.length} streams (${streams})`] };
}

/** The run's one summary line. */
function summary(run: ChaosRun, verdict: ProcessingVerdict, { counts }: FaultsDone, drainMs: number, violations: number): string {
  const after = verdict.duplicatesAfter;
  return (
    `[chaos] processing: seed=${SEED} streams=${STREAMS} entries=${verdict.entries} handler-calls=${verdict.starts} ` +
    `duplicates=${verdict.duplicates} (in-flight=${verdict.inFlightDuplicates}; after kill=${after.kill} stall=${after.stall} ` +
    `close=${after.close} none=${after.none}) takeovers=${verdict.takeovers} worst-per-takeover=${verdict.worstTakeoverDuplicates} ` +
    `worst-duplicate-age=${verdict.worstDuplicateAgeMs ?? '-'}ms (bound ${verdict.duplicateBoundMs}ms) ` +
    `faults=(kill=${counts.kill} stall=${counts.stall} close=${counts.close}) consumers-started=${run.fleet.members.length} ` +
    `drained-in=${drainMs}ms errors=(${run.fleet.errorTally()}) violations=${violations}`
  );
}
