/**
 * Chaos 2: a consumer stopped (SIGSTOP) for several heartbeats is replaced; once resumed (SIGCONT) it reports
 * streamDisowned, with aborted signals, for every stream it lost, and holds none of them any more.
 */
import { expect, it } from 'vitest';
import { useChaosServer } from '../support/chaos-run.js';
import { sleep, waitFor } from '../support/wait.js';

const chaos = useChaosServer();

it('replaces a consumer stalled for 3 heartbeats, which reports streamDisowned for all it lost once resumed', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  await run.fleet.spawnMany(3);
  await run.addStreams(90);
  await run.waitOwned(90);

  const victim = run.fleet.busiest();
  const fault = await run.fault('stall', victim);
  await sleep(3 * run.heartbeatMs);
  await run.waitTakenOver(fault);
  const resumedAt = Date.now();
  run.fleet.resume(victim);
  const disowned = await waitFor(() => {
    const reports = victim.consumer.reports.flatMap((r) => (r.event === 'streamDisowned' ? [r] : []));
    return reports.length >= fault.held.size && reports;
  }, { timeoutMs: 5000, message: 'the resumed consumer to report streamDisowned for every stream it held' });
  const disownedAfterMs = Math.max(...disowned.map((r) => r.at)) - resumedAt;

  const { violations } = await run.finish('sigstop-3-heartbeats', {
    extra: `stalled-held=${fault.held.size} disowned-after-resume=${disownedAfterMs}ms`,
  });
  expect(fault.held.size).toBeGreaterThan(0);
  expect(disowned.map((r) => r.stream).sort()).toEqual([...fault.held.keys()].sort());
  expect(disowned.every((r) => r.aborted)).toBe(true);
  expect(violations).toEqual([]);
});
