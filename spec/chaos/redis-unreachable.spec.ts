/**
 * Chaos 5: Redis unreachable for several seconds, with the connections open: CLIENT PAUSE 4000 ALL, and
 * separately the redis-server process stopped (SIGSTOP) for 4 s. Consumers notice it from their own clock
 * (streamDisowned, or errors), do not crash, never end up with two owners, and recover when Redis returns.
 */
import { afterEach, expect, it } from 'vitest';
import type { Member } from '../support/chaos-fleet.js';
import { useChaosServer } from '../support/chaos-run.js';
import { sleep } from '../support/wait.js';

const OUTAGE_MS = 4000;

const chaos = useChaosServer();
// A stopped Redis must be running again before the consumers are stopped.
afterEach(() => chaos.server.kill('SIGCONT'));

/** Runs `outage` against a fleet of 3 owning 60 streams and checks what they did about it. */
async function survive(name: string, outage: () => Promise<void>): Promise<void> {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  const consumers = await run.fleet.spawnMany(3);
  await run.addStreams(60);
  await run.waitOwned(60);
  const held = new Map(consumers.map((m) => [m, m.consumer.owned().size]));
  const reportsBefore = new Map(consumers.map((m) => [m, m.consumer.reports.length]));

  await outage();
  const returnedAt = Date.now();
  await run.waitOwned(60);
  const recoveredMs = Date.now() - returnedAt;

  const since = (m: Member) => m.consumer.reports.slice(reportsBefore.get(m));
  const disowned = consumers.reduce((n, m) => n + since(m).filter((r) => r.event === 'streamDisowned').length, 0);
  const errors = consumers.reduce((n, m) => n + since(m).filter((r) => r.event === 'error').length, 0);
  const { violations } = await run.finish(name, { extra: `recovered-after=${recoveredMs}ms disowned=${disowned} errors=${errors}` });
  expect(consumers.every((m) => m.consumer.alive)).toBe(true);
  // Each consumer that held streams learned that it could not keep them.
  for (const m of consumers) {
    if (held.get(m)! > 0) expect(since(m).some((r) => r.event === 'streamDisowned' || r.event === 'error')).toBe(true);
  }
  expect(violations).toEqual([]);
}

it('survives CLIENT PAUSE 4000 ALL', async () => {
  await survive('client-pause-4s', async () => {
    await chaos.server.cli('CLIENT', 'PAUSE', String(OUTAGE_MS), 'ALL');
    await sleep(OUTAGE_MS);
  });
});

it('survives the redis-server process stopped (SIGSTOP) for 4 s', async () => {
  await survive('redis-sigstop-4s', async () => {
    chaos.server.kill('SIGSTOP');
    await sleep(OUTAGE_MS);
    chaos.server.kill('SIGCONT');
  });
});
