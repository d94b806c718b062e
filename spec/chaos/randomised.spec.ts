/**
 * Chaos 7: a randomised run. Consumers (child processes) are killed (SIGKILL), stalled (SIGSTOP, then SIGCONT),
 * restarted (a new process, sometimes under the id of a dead one), closed, done() and doneStream'd at random while
 * streams keep arriving; at the end every guarantee must hold. The seed is printed first: replay a run with
 * CHAOS_SEED=<seed> (and CHAOS_DURATION_MS to change its length).
 */
import { expect, it } from 'vitest';
import type { Member } from '../support/chaos-fleet.js';
import { Random } from '../support/chaos-random.js';
import { useChaosServer } from '../support/chaos-run.js';
import type { Fault } from '../support/chaos-takeover.js';
import { sleep } from '../support/wait.js';

const SEED = Number(process.env.CHAOS_SEED ?? 20261128);
const DURATION_MS = Number(process.env.CHAOS_DURATION_MS ?? 40_000);
const CONSUMERS = 5;
const STREAMS = 200;
/** Never fewer healthy consumers than this: someone must be there to take over. */
const MIN_HEALTHY = 2;

const chaos = useChaosServer();

type Action = 'kill' | 'stall' | 'restart' | 'close' | 'done' | 'doneStream' | 'rest';

it(`keeps every guarantee through ${DURATION_MS / 1000} s of random faults (seed ${SEED})`, async () => {
  console.log(`[chaos] randomised: seed=${SEED} duration=${DURATION_MS}ms (replay: CHAOS_SEED=${SEED} npm run test:chaos)`);
  const random = new Random(SEED);
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  const fleet = run.fleet;
  await fleet.spawnMany(CONSUMERS);

  const counts: Record<Action, number> = { kill: 0, stall: 0, restart: 0, close: 0, done: 0, doneStream: 0, rest: 0 };
  /** Every disruptive action (kill, stall, close, done, restart), to tell which takeovers ran undisturbed. */
  const disruptions: Array<{ at: number; member?: Member }> = [];
  const background: Array<Promise<unknown>> = [];
  /** Ids of consumers being started: an id is never reused while its process may still run or start. */
  const spawning = new Set<string>();
  const stopFailures: string[] = [];
  const healthy = (): Member[] => fleet.live();
  /** Members that may be disrupted now without leaving fewer than MIN_HEALTHY healthy ones. */
  const disruptable = (): Member[] => (healthy().length > MIN_HEALTHY ? healthy() : []);

  const act = async (action: Action): Promise<boolean> => {
    const target = random.pick(disruptable());
    switch (action) {
      case 'kill':
        if (!target) return false;
        disruptions.push({ at: Date.now(), member: target });
        await run!.fault('kill', target);
        return true;
      case 'stall': {
        if (!target) return false;
        disruptions.push({ at: Date.now(), member: target });
        await run!.fault('stall', target);
        const stallMs = random.int(2, 4) * run!.heartbeatMs;
        background.push(sleep(stallMs).then(() => fleet.resume(target)));
        return true;
      }
      case 'close':
      case 'done':
        if (!target) return false;
        disruptions.push({ at: Date.now(), member: target });
        if (action === 'close') background.push(run!.fault('close', target));
        else background.push(fleet.stop(target, 'done').then(({ failed }) => failed && stopFailures.push(failed)));
        return true;
      case 'restart': {
        if (fleet.running().length + spawning.size >= CONSUMERS) return false;
        const inUse = new Set([...fleet.running().map((m) => m.id), ...spawning]);
        const reusable = [...new Set(fleet.members.filter((m) => !inUse.has(m.id)).map((m) => m.id))];
        const id = (random.next() < 0.5 && random.pick(reusable)) || fleet.newId();
        disruptions.push({ at: Date.now() });
        spawning.add(id);
        background.push(fleet.spawn(id).finally(() => spawning.delete(id)));
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
        return true;
    }
  };

  const end = Date.now() + DURATION_MS;
  while (Date.now() < end) {
    if (run.added.length < STREAMS) await run.addStreams(Math.min(STREAMS - run.added.length, random.int(5, 20)));
    const action = random.weighted<Action>({ kill: 3, stall: 3, restart: 4, close: 1, done: 1, doneStream: 3, rest: 2 });
    if (await act(action)) counts[action]++;
    await sleep(random.int(300, 1500));
  }
  await Promise.all(background);
  // Leave a fleet that can take everything over.
  while (fleet.live().length < MIN_HEALTHY) await fleet.spawn();

  // A takeover is held to the bound when nothing else happened to the fleet while it ran: a survivor killed or
  // stalled just after it claimed would report its grant late or never, and the fault would look slower than it was.
  const bound = run.boundMs;
  const undisturbed = (fault: Fault): boolean =>
    !disruptions.some((d) => d.member !== fault.member && d.at > fault.at && d.at < fault.at + bound);
  const { violations } = await run.finish('randomised', {
    checkBound: undisturbed,
    extra:
      `seed=${SEED} consumers-started=${fleet.members.length} ` +
      Object.entries(counts).map(([action, n]) => `${action}=${n}`).join(' '),
  });
  expect(violations).toEqual([]);
  expect(stopFailures).toEqual([]);
});
