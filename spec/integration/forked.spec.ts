/**
 * The child-process plumbing of the fault tests and the bench (spec/support/forked.ts): requests and their
 * replies, a child that dies mid-request, and no child outliving the process that forked it.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import type { Forked } from '../support/forked.js';
import { forkFixture, type FixtureCommand, type FixtureReport } from '../support/forked-fixture.js';
import { waitFor } from '../support/wait.js';

const children: Array<Forked<FixtureReport, FixtureCommand>> = [];
const grandchildren: number[] = [];

afterEach(async () => {
  for (const pid of grandchildren.splice(0)) if (await isRunning(pid)) process.kill(pid, 'SIGKILL');
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    await child.exited;
  }
});

/** Whether process `pid` runs: it exists and is not a zombie waiting for its (new) parent to reap it. */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  // "<pid> (<command>) <state> ...": the state follows the last ')'.
  return !stat.slice(stat.lastIndexOf(')') + 1).trim().startsWith('Z');
}

async function start(): Promise<Forked<FixtureReport, FixtureCommand>> {
  const child = forkFixture();
  children.push(child);
  await child.ready((report) => report.event === 'up', 20_000);
  return child;
}

/** A fixture that has forked a fixture of its own: the middle one, and the PID of the grandchild. */
async function startWithGrandchild(): Promise<{ middle: Forked<FixtureReport, FixtureCommand>; grandchild: number }> {
  const middle = await start();
  const grandchild = await middle.request<number>({ command: 'fork' });
  grandchildren.push(grandchild);
  expect(await isRunning(grandchild)).toBe(true);
  return { middle, grandchild };
}

it('answers each request with its own reply, and passes on what the handler threw', async () => {
  const child = await start();
  const replies = await Promise.all(['a', 'b', 'c'].map((value) => child.request({ command: 'echo', value })));
  expect(replies).toEqual(['a', 'b', 'c']);
  await expect(child.request({ command: 'throw', message: 'refused: reason' })).rejects.toThrow('refused: reason');
  expect(child.alive).toBe(true);
});

it('rejects a request whose child exits before replying, and every request after that', async () => {
  const child = await start();
  await expect(child.request({ command: 'exit', code: 7 })).rejects.toThrow(/exited \(code 7\) before it replied/);
  expect(await child.exited).toEqual({ code: 7, signal: null });
  expect(child.alive).toBe(false);
  await expect(child.request({ command: 'echo', value: 'late' })).rejects.toThrow(/is gone/);
});

it('fails ready() when the child exits first', async () => {
  const child = forkFixture();
  children.push(child);
  child.kill('SIGKILL');
  await expect(child.ready((report) => report.event === 'up', 20_000)).rejects.toThrow(/exited \(signal SIGKILL\) before it was ready/);
});

it('ends a child when the process that forked it is killed with SIGKILL', async () => {
  const { middle, grandchild } = await startWithGrandchild();
  middle.kill('SIGKILL');
  expect(await middle.exited).toEqual({ code: null, signal: 'SIGKILL' });
  // Nothing ran in the killed process: the grandchild saw its IPC channel close and left by itself.
  await waitFor(async () => !(await isRunning(grandchild)), { timeoutMs: 5000, message: `grandchild ${grandchild} to exit` });
});

it('kills a stopped child when the process that forked it gets SIGTERM', async () => {
  const { middle, grandchild } = await startWithGrandchild();
  // Stopped, the grandchild cannot notice anything itself: the middle process must kill it on its way out.
  process.kill(grandchild, 'SIGSTOP');
  middle.kill('SIGTERM');
  expect(await middle.exited).toEqual({ code: null, signal: 'SIGTERM' });
  await waitFor(async () => !(await isRunning(grandchild)), { timeoutMs: 5000, message: `grandchild ${grandchild} to be killed` });
});
