/**
 * Chaos 6: the consumers' connections killed (CLIENT KILL) again and again while they are busy: in the middle of a
 * claim storm, of a doneStream loop, and of the LBS reads during bursts of new streams. A reply lost with its
 * connection must not leave an entry owned twice, or orphaned for good (pending under a consumer that does not
 * know it owns it), or finished in Redis while its consumer still believes it owns it.
 */
import { expect, it } from 'vitest';
import { keepKilling, killAfterNextCommands, killConnections } from '../support/chaos-faults.js';
import { ChaosRun, useChaosServer } from '../support/chaos-run.js';
import { sleep } from '../support/wait.js';

const chaos = useChaosServer();

function errorCount(run: ChaosRun): number {
  return run.fleet.members.reduce((n, m) => n + m.consumer.reports.filter((r) => r.event === 'error').length, 0);
}

it('loses nothing when the survivors\' connections are killed during a claim storm', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  await run.fleet.spawnMany(4);
  await run.addStreams(300);
  await run.waitOwned(300);

  const fault = await run.fault('kill', run.fleet.busiest());
  const survivors = run.fleet.live().map((m) => run!.fleet.clientName(m.id));
  // From before the victim's session ends until well after the survivors start claiming.
  const killUntil = fault.at + 2 * run.heartbeatMs + 500;
  const kills = await keepKilling(run.admin, survivors, () => Date.now() > killUntil);

  const { violations } = await run.finish('kill-during-claim', {
    checkBound: false,
    extra: `victim-held=${fault.held.size} connection-kills=${kills} errors=${errorCount(run)}`,
  });
  expect(violations).toEqual([]);
});

it('loses nothing when a consumer\'s connections are killed during a doneStream loop', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  const [finisher] = await run.fleet.spawnMany(2);
  await run.addStreams(150);
  await run.waitOwned(150);

  let looping = true;
  const loop = finisher!.consumer.request({ command: 'doneStream' }).finally(() => (looping = false));
  const kills = await keepKilling(run.admin, [run.fleet.clientName(finisher!.id)], () => !looping);
  await loop;
  // As an application would: doneStream again where the reply was lost (it may or may not have finished).
  const uncertain = finisher!.consumer.reports.flatMap((r) => (r.event === 'finished' && r.outcome === 'failed' ? [r.stream] : []));
  await finisher!.consumer.request({ command: 'doneStream', streams: uncertain });

  const outcomes = finisher!.consumer.reports.flatMap((r) => (r.event === 'finished' ? [r.outcome] : []));
  const count = (outcome: string) => outcomes.filter((o) => o === outcome).length;
  const { violations } = await run.finish('kill-during-doneStream', {
    checkBound: false,
    extra: `connection-kills=${kills} done=${count('done')} failed=${count('failed')} not-owner=${count('not-owner')} errors=${errorCount(run)}`,
  });
  expect(violations).toEqual([]);
});

it('loses nothing when the consumers\' connections are killed while they read bursts of new streams', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  await run.fleet.spawnMany(3);
  const names = run.fleet.live().map((m) => run!.fleet.clientName(m.id));

  let adding = true;
  const killing = keepKilling(run.admin, names, () => !adding);
  for (let burst = 0; burst < 20; burst++) await run.addStreams(10);
  adding = false;
  const kills = await killing;

  const { violations } = await run.finish('kill-during-lbs-read', { checkBound: false, extra: `connection-kills=${kills} errors=${errorCount(run)}` });
  expect(violations).toEqual([]);
});

it('takes back an entry whose delivery reply was lost soon after an earlier connection error', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  const [consumer] = await run.fleet.spawnMany(1);
  const names = [run.fleet.clientName(consumer!.id)];
  // An error first: its blocking read fails. Then, a second later, a new stream wakes the next blocking read, and
  // that reply is lost with its connection: the entry is pending under the consumer, which never heard of it.
  await killConnections(run.admin, names);
  await sleep(1000);
  const kills = await killAfterNextCommands(run.admin, names, { meanwhile: () => run!.addStreams(1) });

  const { violations } = await run.finish('lost-delivery-after-error', { checkBound: false, extra: `connection-kills=${kills + 1}` });
  expect(violations).toEqual([]);
});
