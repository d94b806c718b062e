/**
 * Chaos 4: Redis restarted (with AOF, so the data survives) while consumers run: once cleanly, once after a crash
 * (SIGKILL) and 2 s down, long enough for every session to end. The consumers reconnect and resubscribe (and set
 * the keyspace flags again: a restarted Redis forgot CONFIG SET), new streams are still assigned, a consumer killed
 * afterwards is still taken over, and nothing is lost.
 */
import { expect, it } from 'vitest';
import { subscriberCount } from '../support/chaos-faults.js';
import { ChaosRun, useChaosServer } from '../support/chaos-run.js';
import { sleep, waitFor } from '../support/wait.js';

const chaos = useChaosServer(['--appendonly', 'yes']);

/** Waits until every running consumer has resubscribed and the expiry flags are set again; returns how long. */
async function resubscribed(run: ChaosRun, since: number): Promise<number> {
  const names = run.fleet.running().map((m) => run.fleet.clientName(m.id));
  await waitFor(async () => (await subscriberCount(run.admin, names)) === names.length, {
    timeoutMs: 10_000,
    message: 'every consumer to resubscribe',
  });
  await waitFor(async () => (await chaos.server.cli('CONFIG', 'GET', 'notify-keyspace-events')).includes('x'), {
    timeoutMs: 10_000,
    message: 'the keyspace flags to be set again',
  });
  return Date.now() - since;
}

it('keeps assigning and taking over after Redis with AOF restarts, cleanly and after a crash', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  await run.fleet.spawnMany(4);
  await run.addStreams(60);
  await run.waitOwned(60);

  const restartedAt = Date.now();
  await chaos.server.restart();
  const cleanMs = await resubscribed(run, restartedAt);
  await run.addStreams(30);
  await run.waitOwned(90);

  const crashedAt = Date.now();
  chaos.server.kill('SIGKILL');
  await sleep(2 * run.heartbeatMs);
  await chaos.server.restart();
  const crashMs = await resubscribed(run, crashedAt);
  await run.addStreams(30);
  await run.waitOwned(120);

  const fault = await run.fault('kill', run.fleet.busiest());
  await run.waitTakenOver(fault);

  const errors = run.fleet.members.reduce((n, m) => n + m.consumer.reports.filter((r) => r.event === 'error').length, 0);
  const disowned = run.fleet.members.reduce((n, m) => n + m.consumer.reports.filter((r) => r.event === 'streamDisowned').length, 0);
  const { violations } = await run.finish('redis-restart-aof', {
    extra: `resubscribed-after-restart=${cleanMs}ms resubscribed-after-crash=${crashMs}ms victim-held=${fault.held.size} disowned=${disowned} errors=${errors}`,
  });
  expect(violations).toEqual([]);
});
