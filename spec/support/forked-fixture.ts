/**
 * The child of spec/integration/forked.spec.ts: reports `up` once it serves requests, and obeys commands that
 * exercise the plumbing of forked.ts, including forking a child of its own (to end this one under it).
 */
import { fileURLToPath } from 'node:url';
import { forkTs, report, serveRequests } from './forked.js';

export type FixtureReport = { event: 'up'; pid: number };

export type FixtureCommand =
  | { command: 'echo'; value: string }
  | { command: 'throw'; message: string }
  /** Exits with `code` without replying. */
  | { command: 'exit'; code: number }
  /** Forks another fixture process and replies with its PID once it is up. */
  | { command: 'fork' };

export const FIXTURE_FILE = fileURLToPath(import.meta.url);

export function forkFixture() {
  return forkTs<FixtureReport, FixtureCommand>(FIXTURE_FILE);
}

async function handle(command: FixtureCommand): Promise<unknown> {
  switch (command.command) {
    case 'echo':
      return command.value;
    case 'throw':
      throw new Error(command.message);
    case 'exit':
      process.exit(command.code);
      break;
    case 'fork': {
      const child = forkFixture();
      return (await child.ready((r) => r.event === 'up', 20_000)).pid;
    }
  }
}

if (process.argv[1] === FIXTURE_FILE) {
  serveRequests<FixtureCommand>(handle);
  // Something that keeps the process running, as a consumer's connections do: only serveRequests' watch on the
  // parent ends it when the parent goes away.
  setInterval(() => undefined, 60_000);
  void report<FixtureReport>({ event: 'up', pid: process.pid });
}
