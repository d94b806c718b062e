/**
 * Chaos 3: keyspace notifications lost. Takeover must still happen, through the heartbeat sweep (which touches
 * overdue session keys itself) and the reconcile after a resubscribe:
 *  (i) every pub/sub connection killed (CLIENT KILL TYPE pubsub) just before a consumer is SIGKILLed, and again and
 *      again until its session has ended, in a database with 20,000 other TTL keys;
 *  (ii) `notify-keyspace-events` emptied after init: no notification at all, for a SIGKILL and a close() hand-off.
 */
import { afterEach, expect, it } from 'vitest';
import { fillTtlKeys, killPubSub } from '../support/chaos-faults.js';
import { ChaosRun } from '../support/chaos-run.js';
import { takeoverOf } from '../support/chaos-takeover.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { sleep } from '../support/wait.js';

let server: RedisServer | undefined;
let run: ChaosRun | undefined;

afterEach(async () => {
  await run?.stop();
  await server?.stop();
  run = undefined;
  server = undefined;
});

it('takes a SIGKILLed consumer over while pub/sub connections are being killed', async () => {
  server = await startRedis();
  run = await ChaosRun.start(server.url, { heartbeatMs: 1000, autoClaim: true });
  await fillTtlKeys(run.admin, 20_000);
  await run.fleet.spawnMany(4);
  await run.addStreams(120);
  await run.waitOwned(120);

  let pubsubKills = await killPubSub(run.admin);
  const fault = await run.fault('kill', run.fleet.busiest());
  // Keep killing subscribers until well past the moment the victim's session ends.
  while (Date.now() < fault.at + run.heartbeatMs + 300) {
    pubsubKills += await killPubSub(run.admin);
    await sleep(25);
  }
  await run.waitTakenOver(fault);

  const { violations } = await run.finish('pubsub-killed', { extra: `victim-held=${fault.held.size} pubsub-kills=${pubsubKills}` });
  expect(pubsubKills).toBeGreaterThanOrEqual(4);
  expect(violations).toEqual([]);
});

it('takes over a SIGKILLed and a closed consumer with notify-keyspace-events emptied after init', async () => {
  server = await startRedis();
  run = await ChaosRun.start(server.url, { heartbeatMs: 1000, autoClaim: true });
  await run.fleet.spawnMany(4);
  await run.addStreams(120);
  await run.waitOwned(120);
  await run.admin.configSet('notify-keyspace-events', '');

  const killed = await run.fault('kill', run.fleet.busiest());
  await run.waitTakenOver(killed);
  const closed = await run.fault('close', run.fleet.busiest());
  await run.waitTakenOver(closed);
  const handOffMs = takeoverOf(closed, run.fleet).worstMs;

  const { violations } = await run.finish('notifications-off', {
    extra: `killed-held=${killed.held.size} closed-held=${closed.held.size} close-hand-off=${handOffMs}ms`,
  });
  expect(await run.admin.configGet('notify-keyspace-events')).toEqual({ 'notify-keyspace-events': '' });
  expect(handOffMs).toBeLessThanOrEqual(run.boundMs);
  expect(violations).toEqual([]);
});
