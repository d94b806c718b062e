/**
 * A TypeScript file run in a child process and driven over IPC: the consumer children of the specs
 * (consumer-child.ts) and the bench's workers (bench/worker.ts). Plumbing only, no library import.
 *
 * Parent side: `forkTs()` starts the child and returns a `Forked`, which delivers the child's reports to its
 * listeners and sends it requests, each answered by one reply (or failed when the child exits first). Every child
 * is killed when the parent process ends, so that a crashed or interrupted run leaves none behind.
 *
 * Child side: `serveRequests()` answers the parent's requests and ends the child when the parent goes away;
 * `report()` sends a report; `leaveParent()` closes the IPC channel on purpose, leaving the child to exit by itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export interface ForkOptions {
  /** Runs the child with --expose-gc, for one that measures its own memory. */
  gc?: boolean;
  /** Writes a CPU profile (.cpuprofile) of the child to this directory when it exits (node --cpu-prof). */
  cpuProfileDir?: string;
}

export interface RequestOptions {
  /** Fails the request when no reply came within this long; by default it waits as long as the child runs. */
  timeoutMs?: number;
}

/** How a child process ended: its exit code, or the signal that ended it. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What a handler of `serveRequests()` may ask for beyond its reply. */
export interface Replying {
  /** Runs `action` once the reply has been handed to the IPC channel (to leave or exit after answering). */
  afterReply(action: () => unknown): void;
}

type ToChild<Command> = { ref: number; command: Command };
type FromChild<Report> =
  | { kind: 'report'; report: Report }
  | { kind: 'reply'; ref: number; ok: true; result: unknown }
  | { kind: 'reply'; ref: number; ok: false; error: string };

// ---- the parent ----

/**
 * Children of this process that may still run, killed when it ends. Kept on globalThis so that the copies of
 * this module vitest loads (one per spec file in a worker) share one registry and one set of process listeners.
 */
const LIVE = Symbol.for('redis-stream-client/spec/live-forked-children');
const registry = globalThis as { [LIVE]?: Set<ChildProcess> };

function liveChildren(): Set<ChildProcess> {
  const existing = registry[LIVE];
  if (existing) return existing;
  const children = new Set<ChildProcess>();
  registry[LIVE] = children;
  const killAll = (): void => {
    for (const child of children) {
      child.kill('SIGCONT'); // a stopped child would take the SIGKILL too, but would not give up its resources first
      child.kill('SIGKILL');
    }
    children.clear();
  };
  process.on('exit', killAll);
  // Vitest ends its fork workers with SIGTERM, which skips 'exit' listeners. Clean up, then re-raise: with our
  // once-listener gone the signal's default action (or the program's own listener) ends the process as before.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
  return children;
}

/** SIGKILLs every child forked by this process that still runs. */
export function killForkedChildren(): void {
  for (const child of liveChildren()) child.kill('SIGKILL');
}

/** Forks `file` (TypeScript, run through tsx) with `args`; its stdout and stderr go to this process's. */
export function forkTs<Report, Command>(file: string, args: readonly string[] = [], { gc = false, cpuProfileDir }: ForkOptions = {}): Forked<Report, Command> {
  const profile = cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`] : [];
  const child = fork(file, args, {
    execArgv: [...(gc ? ['--expose-gc'] : []), ...profile, '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Forked<Report, Command>(child, path.basename(file));
}

/** The parent's handle on a forked child. */
export class Forked<Report, Command> {
  /** Resolves once the process has exited. */
  readonly exited: Promise<Exit>;
  private readonly listeners = new Set<(report: Report) => void>();
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  private nextRef = 1;
  private hasExited = false;
  private resolveExited: (exit: Exit) => void = () => undefined;

  /** `name` says which file runs, in error messages. */
  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    liveChildren().add(child);
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    child.once('exit', (code, signal) => this.end({ code, signal }));
    // A process that could not be started has no 'exit'. Any other error is a failed send, reported to its
    // request, or a failed kill of a process already gone, which needs no report.
    child.on('error', (error) => child.pid === undefined && this.end({ code: null, signal: null }, `could not start: ${error.message}`));
    child.on('message', (message: FromChild<Report>) => this.receive(message));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.hasExited;
  }

  /** Calls `listener` with every report that arrives from now on; returns a function that stops it. */
  onReport(listener: (report: Report) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends `signal` to the process unless it has exited (its PID may already be another process's). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }

  /**
   * Resolves with the first report from now on that `isReady` accepts. Fails when the process exits first or
   * none came within `timeoutMs`; the process is then killed, and gone by the time the promise rejects.
   */
  ready<Ready extends Report>(isReady: (report: Report) => report is Ready, timeoutMs: number): Promise<Ready>;
  ready(isReady: (report: Report) => boolean, timeoutMs: number): Promise<Report>;
  async ready(isReady: (report: Report) => boolean, timeoutMs: number): Promise<Report> {
    let stopListening = (): unknown => undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<Report>((resolve) => {
          stopListening = this.onReport((report) => isReady(report) && resolve(report));
        }),
        this.exited.then((exit) => {
          throw new Error(`${this.describe()} exited (${describeExit(exit)}) before it was ready`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${this.describe()} was not ready within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      this.kill('SIGKILL');
      await this.exited;
      throw error;
    } finally {
      stopListening();
      clearTimeout(timer);
    }
  }

  /** Sends `command` and resolves with the child's reply; rejects with the error the child's handler threw, when
   * the process is gone or exits before it replied, or after `timeoutMs`. */
  request<Result = unknown>(command: Command, { timeoutMs }: RequestOptions = {}): Promise<Result> {
    if (!this.alive || !this.child.connected) return Promise.reject(new Error(`${this.describe()} is gone`));
    const ref = this.nextRef++;
    return new Promise<Result>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => settle(() => reject(new Error(`${this.describe()} did not reply within ${timeoutMs} ms`))), timeoutMs);
      const settle = (finish: () => void): void => {
        clearTimeout(timer);
        this.pending.delete(ref);
        finish();
      };
      this.pending.set(ref, {
        resolve: (result) => settle(() => resolve(result as Result)),
        reject: (error) => settle(() => reject(error)),
      });
      const message: ToChild<Command> = { ref, command };
      this.child.send(message, (error) => error && this.pending.get(ref)?.reject(error));
    });
  }

  /** The process is gone: fails what waits for a reply, resolves `exited`. */
  private end(exit: Exit, why = `exited (${describeExit(exit)})`): void {
    if (this.hasExited) return;
    this.hasExited = true;
    liveChildren().delete(this.child);
    for (const { reject } of this.pending.values()) reject(new Error(`${this.describe()} ${why} before it replied`));
    this.pending.clear();
    this.resolveExited(exit);
  }

  private receive(message: FromChild<Report>): void {
    if (message.kind === 'report') {
      for (const listener of this.listeners) listener(message.report);
      return;
    }
    const waiter = this.pending.get(message.ref);
    if (message.ok) waiter?.resolve(message.result);
    else waiter?.reject(new Error(message.error));
  }

  private describe(): string {
    return `${this.name} (pid ${this.pid})`;
  }
}

function describeExit({ code, signal }: Exit): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}

// ---- the child ----

let leaving = false;

/** Sends a report to the parent; resolves once it is handed to the IPC channel (at once when there is none). */
export function report<Report>(sent: Report): Promise<void> {
  return sendToParent<Report>({ kind: 'report', report: sent });
}

function sendToParent<Report>(message: FromChild<Report>): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

/**
 * Answers each request of the parent with what `handler` returns, or with the error it throws. Also ends this
 * process when the parent goes away (crashed, or killed): nobody would stop it otherwise, and whatever it holds
 * (connections, timers) would keep it running.
 */
export function serveRequests<Command>(handler: (command: Command, replying: Replying) => unknown): void {
  process.once('disconnect', () => {
    if (!leaving) process.exit(0);
  });
  process.on('message', (message: ToChild<Command>) => {
    const after: Array<() => unknown> = [];
    const replying: Replying = { afterReply: (action) => void after.push(action) };
    void (async () => {
      let reply: FromChild<never>;
      try {
        reply = { kind: 'reply', ref: message.ref, ok: true, result: (await handler(message.command, replying)) ?? null };
      } catch (error) {
        reply = { kind: 'reply', ref: message.ref, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
      }
      await sendToParent(reply);
      for (const action of after) await action();
    })();
  });
}

/** Closes the IPC channel to the parent without ending this process: it should then exit by itself, once
 * nothing keeps its event loop busy. */
export function leaveParent(): void {
  leaving = true;
  if (process.connected) process.disconnect();
}
