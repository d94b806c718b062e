/**
 * Chaos 1: SIGKILL of the busiest of several consumers, in a database holding 20,000 unrelated keys with a 1-hour
 * TTL (Redis's own expiry cycle then finds a dead session's key late; the heartbeat sweep must not).
 */
import { expect, it } from 'vitest';
import { fillTtlKeys } from '../support/chaos-faults.js';
import { useChaosServer } from '../support/chaos-run.js';

const chaos = useChaosServer();

it('takes the streams of the busiest consumer over within heartbeatMs + 1.5 s of its SIGKILL', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  await fillTtlKeys(run.admin, 20_000);
  await run.fleet.spawnMany(4);
  await run.addStreams(200);
  await run.waitOwned(200);

  const victim = run.fleet.busiest();
  const fault = await run.fault('kill', victim);
  await run.waitTakenOver(fault);

  const { violations } = await run.finish('sigkill-busiest', { extra: `victim-held=${fault.held.size}` });
  expect(fault.held.size).toBeGreaterThan(0);
  expect(violations).toEqual([]);
});
