/**
 * Security (resources): a process that used a client must be able to end without process.exit(). A child creates
 * a client, init()s, adds streams and takes them (and the other claims what the first hands over), then calls
 * close() (one child) or done() (the other), disconnects its own node-redis client and its IPC channel: nothing of
 * the library (timers, sockets, listeners) may keep it alive.
 */
import { expect, it } from 'vitest';
import { keysFor } from '../../lib/index.js';
import type { Member } from '../support/chaos-fleet.js';
import { ChaosRun, useChaosServer } from '../support/chaos-run.js';
import { sleep, waitFor } from '../support/wait.js';

/** How long a child may take to exit once it asked to stop (close() or done(), then its own disconnects). */
const EXIT_MS = 5000;

const chaos = useChaosServer();

/** Stops `member` and returns ms from its disconnect to its exit; fails when it does not exit by itself in time. */
async function exitsByItself(run: ChaosRun, member: Member, how: 'close' | 'done'): Promise<number> {
  const stopped = await Promise.race([run.fleet.stop(member, how).then(() => true), sleep(EXIT_MS).then(() => false)]);
  expect(stopped, `the ${how}() child still runs ${EXIT_MS} ms after it was asked to stop`).toBe(true);
  const exit = await member.consumer.exited;
  expect(exit).toEqual({ code: 0, signal: null });
  const report = member.consumer.reports.find((r) => r.event === 'stopped');
  expect(report).toMatchObject({ how });
  expect(report && 'failed' in report ? report.failed : undefined).toBeUndefined();
  return Date.now() - report!.at;
}

it('lets a process exit by itself after close() and after done()', async () => {
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true });
  const [closing, finishing] = await run.fleet.spawnMany(2);
  await closing!.consumer.request({ command: 'addStreams', streams: ['a0', 'a1', 'a2', 'a3', 'a4'] });
  await finishing!.consumer.request({ command: 'addStreams', streams: ['b0', 'b1', 'b2', 'b3', 'b4'] });
  await waitFor(() => run!.fleet.ownedCount() === 10 && closing!.consumer.owned().size > 0);

  const afterClose = await exitsByItself(run, closing!, 'close');
  await waitFor(() => finishing!.consumer.owned().size === 10, { timeoutMs: 5000 });
  const afterDone = await exitsByItself(run, finishing!, 'done');

  expect(await run.admin.xLen(keysFor(run.service).lbs)).toBe(0);
  console.log(`[chaos] leaks: close() child exited ${afterClose} ms after stopping, done() child ${afterDone} ms after stopping`);
});

it('lets a process that processes streams with run() exit by itself after close() and after done()', async () => {
  const recordsKey = `records-${Date.now()}`;
  const run = await chaos.start({ heartbeatMs: 1000, autoClaim: true }, { processing: { recordsKey, run: { commitIntervalMs: 50 }, maxWorkMs: 5 } });
  const [closing, finishing] = await run.fleet.spawnMany(2);
  const streams = ['p0', 'p1', 'p2', 'p3'];
  for (const stream of streams) for (let n = 0; n < 5; n += 1) await run.admin.xAdd(stream, '*', { n: String(n) });
  await closing!.consumer.request({ command: 'addStreams', streams });
  // Every entry's handler has recorded its end: each stream is read, processed and committed.
  await waitFor(async () => (await run.admin.xLen(recordsKey)) === 2 * 20);
  const afterClose = await exitsByItself(run, closing!, 'close');
  await waitFor(() => finishing!.consumer.owned().size === 4, { timeoutMs: 5000 });
  const afterDone = await exitsByItself(run, finishing!, 'done');
  // Every stream finished, and nothing of them left: a commit sent before done() finished them must not write a
  // position back after it (as a commit resent with EVAL after NOSCRIPT once did).
  expect(await run.admin.xLen(keysFor(run.service).lbs)).toBe(0);
  expect(await run.admin.hGetAll(keysFor(run.service).positions)).toEqual({});
  console.log(`[chaos] leaks (run): close() child exited ${afterClose} ms after stopping, done() child ${afterDone} ms after stopping`);
});
