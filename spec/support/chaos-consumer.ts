/**
 * A consumer in a child process for the chaos suite. Like consumer-process.ts, but the child also obeys commands
 * (doneStream, addStreams, close, done), reports the LBS entry and fencing token of every lease, and names its
 * Redis connections so that a test can `CLIENT KILL` exactly them. A test signals it with real SIGKILL / SIGSTOP.
 * Its own file rather than more of consumer-process.ts: the other specs rely on that child's simpler protocol.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { NotOwnerError, RedisStreamClient, type RedisStreamClientOptions } from '../../lib/index.js';

export type StopHow = 'close' | 'done';

/** What a child reports; `at` is its wall clock (Date.now()) when it saw the event. */
export type ChaosReport =
  | { event: 'ready'; id: string; pid: number; at: number }
  | { event: 'streamAdded'; stream: string; lbsId: string; token: number; recovered: boolean; at: number }
  | { event: 'streamExpired'; stream: string; previousOwner: string; at: number }
  | { event: 'streamDisowned'; stream: string; token: number; aborted: boolean; at: number }
  | { event: 'error'; name: string; message: string; at: number }
  /** A doneStream call: 'failed' (not NotOwnerError) means the reply was lost, so it may have finished. */
  | { event: 'finished'; stream: string; outcome: 'done' | 'not-owner' | 'failed'; message?: string; at: number }
  | { event: 'stopped'; how: StopHow; failed?: string; at: number }
  | { event: 'reply'; ref: number; failed?: string; owned?: OwnedLease[] };

/** A lease as `client.owned()` lists it in the child. */
export interface OwnedLease {
  stream: string;
  lbsId: string;
  token: number;
}

export type ChaosCommand =
  /** doneStream on each of `streams` in turn, or on every stream owned when the command arrives. */
  | { command: 'doneStream'; streams?: string[] }
  | { command: 'addStreams'; streams: string[] }
  /** Replies with `client.owned()`: what the library itself believes this consumer owns. */
  | { command: 'owned' }
  /** close() or done(), then the child disconnects its own node-redis client and its IPC channel, and should
   * then exit by itself: nothing of the library may keep it alive. */
  | { command: StopHow };

export interface ChaosConsumerOptions {
  /** CLIENT SETNAME for every connection of the child (node-redis passes it on to duplicates). */
  clientName?: string;
  /** How long to wait for `ready`. */
  readyTimeoutMs?: number;
}

const READY_TIMEOUT_MS = 20_000;

/** The parent's handle on one child consumer and everything it reported. */
export class ChaosConsumer {
  readonly reports: ChaosReport[] = [];
  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private nextRef = 1;
  private readonly replies = new Map<number, (report: Extract<ChaosReport, { event: 'reply' }>) => void>();
  private hasExited = false;

  /** The consumer id, from the child's `ready` report. */
  id = '';

  constructor(readonly child: ChildProcess) {
    child.on('message', (report: ChaosReport) => {
      this.reports.push(report);
      if (report.event === 'reply') this.replies.get(report.ref)?.(report);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.hasExited = true;
        for (const reply of this.replies.values()) reply({ event: 'reply', ref: 0, failed: 'the process exited' });
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return !this.hasExited;
  }

  /** The streams this consumer holds by its reports (the first `upTo` of them): stream -> entry id and token. */
  owned(upTo = this.reports.length): Map<string, { lbsId: string; token: number }> {
    const owned = new Map<string, { lbsId: string; token: number }>();
    for (const report of this.reports.slice(0, upTo)) {
      if (report.event === 'streamAdded') owned.set(report.stream, { lbsId: report.lbsId, token: report.token });
      else if (report.event === 'streamDisowned') owned.delete(report.stream);
      // doneStream answered: finished, or not this consumer's (any more); only a lost reply leaves it owned.
      else if (report.event === 'finished' && report.outcome !== 'failed') owned.delete(report.stream);
      else if (report.event === 'stopped') owned.clear();
    }
    return owned;
  }

  /** Sends a command and resolves with its reply (`failed` set when it threw or the process went away);
   * `reportCount` is how many reports had arrived with the reply. */
  request(command: ChaosCommand): Promise<{ failed?: string; owned?: OwnedLease[]; reportCount: number }> {
    if (!this.alive || !this.child.connected) return Promise.resolve({ failed: 'the process is gone', reportCount: this.reports.length });
    const ref = this.nextRef++;
    return new Promise((resolve) => {
      this.replies.set(ref, (reply) => {
        this.replies.delete(ref);
        resolve({ ...reply, reportCount: this.reports.length });
      });
      this.child.send({ ...command, ref });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }
}

/**
 * Child processes of this test process that may still run: killed when it ends, so that a crashed or
 * interrupted run leaves none behind. Only our own children, by PID.
 */
const children = new Set<ChildProcess>();
let cleanupInstalled = false;

function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const killAll = (): void => {
    for (const child of children) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    children.clear();
  };
  process.on('exit', killAll);
  // Vitest ends its workers with SIGTERM, which skips 'exit' listeners: clean up, then let the signal act.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.kill(process.pid, signal);
    });
  }
}

/** Starts a child consumer and resolves once its client is initialised. */
export async function spawnChaosConsumer(
  url: string,
  options: RedisStreamClientOptions,
  { clientName, readyTimeoutMs = READY_TIMEOUT_MS }: ChaosConsumerOptions = {},
): Promise<ChaosConsumer> {
  installCleanup();
  const child = fork(fileURLToPath(import.meta.url), [url, JSON.stringify(options), clientName ?? ''], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const consumer = new ChaosConsumer(child);
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = await Promise.race([
      new Promise<Extract<ChaosReport, { event: 'ready' }>>((resolve) =>
        child.on('message', (report: ChaosReport) => report.event === 'ready' && resolve(report)),
      ),
      consumer.exited.then(({ code, signal }) => {
        const errors = consumer.reports.flatMap((r) => (r.event === 'error' ? [r.message] : []));
        throw new Error(`consumer process exited (${code ?? signal}) before it was ready: ${errors.join('; ')}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`consumer process not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
      }),
    ]);
    consumer.id = ready.id;
    return consumer;
  } catch (error) {
    consumer.kill('SIGKILL');
    await consumer.exited;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

// ---- the child ----

function send(report: ChaosReport): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(report, () => resolve());
  });
}

async function runChild(url: string, options: RedisStreamClientOptions, clientName: string): Promise<void> {
  const redis = createClient({ url, ...(clientName ? { name: clientName } : {}) });
  redis.on('error', () => undefined);
  const client = new RedisStreamClient(redis, options);
  client.on('streamAdded', (lease) =>
    void send({ event: 'streamAdded', stream: lease.stream, lbsId: lease.lbsId, token: lease.token, recovered: lease.recovered, at: Date.now() }),
  );
  client.on('streamExpired', (expired) =>
    void send({ event: 'streamExpired', stream: expired.stream, previousOwner: expired.previousOwner, at: Date.now() }),
  );
  client.on('streamDisowned', (lease) =>
    void send({ event: 'streamDisowned', stream: lease.stream, token: lease.token, aborted: lease.signal.aborted, at: Date.now() }),
  );
  client.on('error', (error) => void send({ event: 'error', name: error.name, message: error.message, at: Date.now() }));

  /** Ends everything this process holds and lets it exit by itself. */
  const leave = async (how: StopHow | 'failed-init', ref?: number): Promise<void> => {
    let failed: string | undefined;
    if (how !== 'failed-init') {
      failed = await (how === 'done' ? client.done() : client.close()).then(() => undefined, (error: unknown) => String(error));
      await send({ event: 'stopped', how, ...(failed ? { failed } : {}), at: Date.now() });
    }
    await redis.disconnect().catch(() => undefined);
    if (ref !== undefined) await send({ event: 'reply', ref, ...(failed ? { failed } : {}) });
    // Diagnosis only (unref'd, so it cannot keep the process alive itself): what still holds the event loop.
    setTimeout(() => console.error(`[chaos-consumer ${process.pid}] still running:`, process.getActiveResourcesInfo()), 3000).unref();
    process.disconnect();
  };

  const handle = async (command: ChaosCommand & { ref: number }): Promise<void> => {
    switch (command.command) {
      case 'close':
      case 'done':
        return leave(command.command, command.ref);
      case 'owned':
        return send({ event: 'reply', ref: command.ref, owned: client.owned().map(({ stream, lbsId, token }) => ({ stream, lbsId, token })) });
      case 'addStreams':
        try {
          for (const stream of command.streams) await client.addStream(stream);
          await send({ event: 'reply', ref: command.ref });
        } catch (error) {
          await send({ event: 'reply', ref: command.ref, failed: String(error) });
        }
        return;
      case 'doneStream':
        for (const stream of command.streams ?? client.owned().map((lease) => lease.stream)) {
          const outcome = await client.doneStream(stream).then(
            () => ({ outcome: 'done' as const }),
            (error: unknown) =>
              error instanceof NotOwnerError ? { outcome: 'not-owner' as const } : { outcome: 'failed' as const, message: String(error) },
          );
          await send({ event: 'finished', stream, ...outcome, at: Date.now() });
        }
        await send({ event: 'reply', ref: command.ref });
    }
  };
  process.on('message', (command: ChaosCommand & { ref: number }) => void handle(command));

  try {
    await redis.connect();
    await client.init();
  } catch (error) {
    await send({ event: 'error', name: error instanceof Error ? error.name : 'Error', message: String(error), at: Date.now() });
    return leave('failed-init');
  }
  await send({ event: 'ready', id: client.id(), pid: process.pid, at: Date.now() });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void runChild(process.argv[2]!, JSON.parse(process.argv[3]!) as RedisStreamClientOptions, process.argv[4] ?? '');
}
