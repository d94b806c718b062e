/**
 * A consumer in a child process, for the tests that kill or stop one with real signals (SIGKILL, SIGSTOP). The
 * parent starts it with `spawnConsumer()`; the child reports its client's events with the LBS entry and fencing
 * token of every lease, and obeys commands (doneStream, addStreams, owned, drain, resume, close, restart, done). Its
 * Redis connections can be named, so that a test can find them in CLIENT LIST and `CLIENT KILL` exactly them. With
 * `processing`, it processes its streams with `client.run()` and records every handler call (handler-records.ts).
 */
import { fileURLToPath } from 'node:url';
import { createClient, createCluster, createInspectingClient, createSentinel } from './node-redis.js';
import {
  AlreadyClaimedError,
  NotOwnerError,
  RedisStreamClient,
  type LeaseOrigin,
  type RedisStreamClientOptions,
  type ReleaseReason,
  type StreamLease,
} from '../../lib/index.js';
import { forkTs, leaveParent, report, serveRequests, type Exit, type Forked, type Replying } from './forked.js';
import { recordingHandler, type RecordingSettings } from './handler-records.js';

/** How a child leaves: close(), close({ restart: true }) (its streams kept for its next process under the same id),
 * or done(). */
export type StopHow = 'close' | 'restart' | 'done';

/** What a child reports; `at` is its wall clock (Date.now()) when it saw the event. */
export type ConsumerReport =
  | { event: 'ready'; id: string; pid: number; at: number }
  | { event: 'streamAdded'; stream: string; lbsId: string; token: number; recovered: boolean; origin: LeaseOrigin; at: number }
  | { event: 'streamExpired'; stream: string; previousOwner: string; at: number }
  | { event: 'streamDisowned'; stream: string; token: number; aborted: boolean; at: number }
  | { event: 'streamReleased'; stream: string; token: number; reason: ReleaseReason; aborted: boolean; at: number }
  /** claimExpired: a claim() of an expired stream was refused (AlreadyClaimedError's reason) or failed. */
  | { event: 'claimRefused'; stream: string; reason: string; at: number }
  | { event: 'error'; name: string; message: string; at: number }
  /** drain() resolved: what it handed over and kept, and what `client.owned()` said in the same tick. */
  | { event: 'drained'; handedOver: number; kept: string[]; owned: string[]; at: number }
  /** Sent just before resume() is called: from here on the consumer may take streams again. */
  | { event: 'resuming'; at: number }
  /** A doneStream call: 'failed' (not NotOwnerError) means the reply was lost, so it may have finished. */
  | { event: 'finished'; stream: string; outcome: 'done' | 'not-owner' | 'failed'; message?: string; at: number }
  | { event: 'stopped'; how: StopHow; failed?: string; at: number };

/** A lease as `client.owned()` lists it in the child. */
export interface OwnedLease {
  stream: string;
  lbsId: string;
  token: number;
}

export type ConsumerCommand =
  /** doneStream on each of `streams` in turn, or on every stream owned when the command arrives. */
  | { command: 'doneStream'; streams?: string[] }
  | { command: 'addStreams'; streams: string[] }
  /** Replies with `client.owned()`: what the library itself believes this consumer owns. */
  | { command: 'owned' }
  /** drain({ timeoutMs }), reported as `drained` (before the reply). */
  | { command: 'drain'; timeoutMs: number }
  /** resume(), announced by a `resuming` report before the call. */
  | { command: 'resume' }
  /** close(), close({ restart: true }) or done(), then the child disconnects its own node-redis client and its IPC
   * channel, and should then exit by itself: nothing of the library may keep it alive. */
  | { command: StopHow };

/** A command's reply: `failed` when it threw (or the process is gone); `owned` for 'owned'; `reportCount` is how
 * many reports the child had sent when it replied (for 'owned': when it read `client.owned()`). */
export interface ConsumerReply {
  failed?: string;
  owned?: OwnedLease[];
  reportCount: number;
}

export interface SpawnOptions {
  /** Manual mode: claim every stream `streamExpired` reports (a won claim is reported as streamAdded). */
  claimExpired?: boolean;
  /** CLIENT SETNAME for every connection of the child (node-redis passes it on to duplicates). Not on a cluster. */
  clientName?: string;
  /** How long to wait for the client's init(); 20 s by default. */
  readyTimeoutMs?: number;
  /** Processes every owned stream with `client.run()` (registered before init()), recording each handler call
   * in a stream of the test over a connection of its own. Not on a cluster. */
  processing?: RecordingSettings;
}

const READY_TIMEOUT_MS = 20_000;

/** Where a child connects: a Redis URL, the node URLs of a Redis Cluster, or a Sentinel set-up (node-redis 5, 6). */
export type ChildTarget = string | string[] | { sentinel: string; rootNodes: Array<{ host: string; port: number }> };
const CHILD_FILE = fileURLToPath(import.meta.url);

/** The parent's handle on one child consumer and everything it reported. */
export class ConsumerChild {
  /** Every report, in order of arrival. */
  readonly reports: ConsumerReport[] = [];
  /** The consumer id, from the child's `ready` report. */
  id = '';

  /** Call it in the tick `forked` was forked in: reports are not kept for later listeners. */
  constructor(private readonly forked: Forked<ConsumerReport, ConsumerCommand>) {
    forked.onReport((report) => this.reports.push(report));
  }

  get pid(): number {
    return this.forked.pid;
  }

  get alive(): boolean {
    return this.forked.alive;
  }

  /** Resolves when the process has exited, with its exit code or the signal that ended it. */
  get exited(): Promise<Exit> {
    return this.forked.exited;
  }

  /** The streams this consumer holds by its reports (the first `upTo` of them): stream -> entry id and token. */
  owned(upTo = this.reports.length): Map<string, { lbsId: string; token: number }> {
    const owned = new Map<string, { lbsId: string; token: number }>();
    for (const report of this.reports.slice(0, upTo)) {
      if (report.event === 'streamAdded') owned.set(report.stream, { lbsId: report.lbsId, token: report.token });
      else if (report.event === 'streamDisowned' || report.event === 'streamReleased') owned.delete(report.stream);
      // doneStream answered: finished, or not this consumer's (any more); only a lost reply leaves it owned.
      else if (report.event === 'finished' && report.outcome !== 'failed') owned.delete(report.stream);
      else if (report.event === 'stopped') owned.clear();
    }
    return owned;
  }

  /** Sends a command and resolves with its reply; never rejects (a process gone or exiting first is `failed`). */
  request(command: ConsumerCommand): Promise<ConsumerReply> {
    return this.forked.request<ConsumerReply>(command).catch((error: unknown) => ({
      failed: error instanceof Error ? error.message : String(error),
      reportCount: this.reports.length,
    }));
  }

  /** Sends `signal` unless the process has exited. */
  kill(signal: NodeJS.Signals): void {
    this.forked.kill(signal);
  }
}

/** Starts a child consumer and resolves once its client is initialised. `url` is a Redis URL, the node URLs of a
 * Redis Cluster, or a Sentinel set-up's master name and sentinels. */
export async function spawnConsumer(
  url: ChildTarget,
  options: RedisStreamClientOptions,
  { claimExpired = false, clientName, readyTimeoutMs = READY_TIMEOUT_MS, processing }: SpawnOptions = {},
): Promise<ConsumerChild> {
  if (typeof url !== 'string' && clientName !== undefined) throw new TypeError('spawnConsumer(): clientName is only supported on a single Redis');
  if (typeof url !== 'string' && processing !== undefined) throw new TypeError('spawnConsumer(): processing is only supported on a single Redis');
  const settings: ChildSettings = { url, options, claimExpired, clientName, processing };
  const forked = forkTs<ConsumerReport, ConsumerCommand>(CHILD_FILE, [JSON.stringify(settings)]);
  const consumer = new ConsumerChild(forked);
  const isReady = (report: ConsumerReport): report is Extract<ConsumerReport, { event: 'ready' }> => report.event === 'ready';
  try {
    consumer.id = (await forked.ready(isReady, readyTimeoutMs)).id;
  } catch (error) {
    const errors = consumer.reports.flatMap((r) => (r.event === 'error' ? [r.message] : []));
    throw new Error(`consumer process: ${error instanceof Error ? error.message : String(error)}${errors.length ? `: ${errors.join('; ')}` : ''}`);
  }
  return consumer;
}

// ---- the child ----

interface ChildSettings {
  url: ChildTarget;
  options: RedisStreamClientOptions;
  claimExpired: boolean;
  clientName: string | undefined;
  processing: RecordingSettings | undefined;
}

async function runChild({ url, options, claimExpired, clientName, processing }: ChildSettings): Promise<void> {
  let reportCount = 0;
  const send = (sent: ConsumerReport): Promise<void> => {
    reportCount++;
    return report(sent);
  };
  const redis =
    typeof url === 'string'
      ? createClient({ url, ...(clientName ? { name: clientName } : {}) })
      : Array.isArray(url)
        ? createCluster({ rootNodes: url.map((node) => ({ url: node })) })
        : createSentinel({ name: url.sentinel, sentinelRootNodes: url.rootNodes });
  redis.on('error', () => undefined);
  const client = new RedisStreamClient(redis, options);
  // The records go over a connection of their own, so that they do not wait behind the library's commands.
  const recorder = processing && typeof url === 'string' ? createInspectingClient({ url }) : undefined;
  recorder?.on('error', () => undefined);
  if (recorder && processing) client.run({ ...processing.run, eachEntry: recordingHandler(recorder, client.id(), processing) });
  const added = (lease: StreamLease): void =>
    void send({ event: 'streamAdded', stream: lease.stream, lbsId: lease.lbsId, token: lease.token, recovered: lease.recovered, origin: lease.origin, at: Date.now() });
  client.on('streamAdded', added);
  client.on('streamExpired', (expired) => {
    void send({ event: 'streamExpired', stream: expired.stream, previousOwner: expired.previousOwner, at: Date.now() });
    if (!claimExpired) return;
    client.claim(expired).then(added, (error: unknown) =>
        void send({
          event: 'claimRefused',
          stream: expired.stream,
          reason: error instanceof AlreadyClaimedError ? error.reason : String(error),
          at: Date.now(),
        }),
    );
  });
  client.on('streamDisowned', (lease) =>
    void send({ event: 'streamDisowned', stream: lease.stream, token: lease.token, aborted: lease.signal.aborted, at: Date.now() }),
  );
  client.on('streamReleased', ({ lease, reason }) =>
    void send({ event: 'streamReleased', stream: lease.stream, token: lease.token, reason, aborted: lease.signal.aborted, at: Date.now() }),
  );
  client.on('error', (error) => void send({ event: 'error', name: error.name, message: error.message, at: Date.now() }));

  /** Ends everything this process holds and lets it exit by itself. */
  const leave = async (how: StopHow | 'failed-init', replying?: Replying): Promise<{ failed?: string }> => {
    let failed: string | undefined;
    if (how !== 'failed-init') {
      const stopped = how === 'done' ? client.done() : client.close({ restart: how === 'restart' });
      failed = await stopped.then(() => undefined, (error: unknown) => String(error));
      await send({ event: 'stopped', how, ...(failed ? { failed } : {}), at: Date.now() });
    }
    await ('disconnect' in redis ? redis.disconnect() : redis.close()).catch(() => undefined);
    await recorder?.disconnect().catch(() => undefined);
    const goodbye = (): void => {
      // Diagnosis only (unref'd, so it cannot keep the process alive itself): what still holds the event loop.
      setTimeout(() => console.error(`[consumer-child ${process.pid}] still running:`, process.getActiveResourcesInfo()), 3000).unref();
      leaveParent();
    };
    if (replying) replying.afterReply(goodbye);
    else goodbye();
    return failed ? { failed } : {};
  };

  /** A reply, counting the reports sent so far: call it in the tick the reply's facts were read. */
  const reply = (facts: Omit<ConsumerReply, 'reportCount'> = {}): ConsumerReply => ({ ...facts, reportCount });
  const handle = async (command: ConsumerCommand, replying: Replying): Promise<ConsumerReply> => {
    switch (command.command) {
      case 'close':
      case 'restart':
      case 'done':
        return reply(await leave(command.command, replying));
      case 'drain':
        try {
          const { handedOver, kept } = await client.drain({ timeoutMs: command.timeoutMs });
          const owned = client.owned().map((lease) => lease.stream);
          await send({ event: 'drained', handedOver, kept: kept.map((lease) => lease.stream), owned, at: Date.now() });
          return reply();
        } catch (error) {
          return reply({ failed: String(error) });
        }
      case 'resume':
        await send({ event: 'resuming', at: Date.now() });
        return reply(await client.resume().then(() => ({}), (error: unknown) => ({ failed: String(error) })));
      case 'owned':
        return reply({ owned: client.owned().map(({ stream, lbsId, token }) => ({ stream, lbsId, token })) });
      case 'addStreams':
        try {
          for (const stream of command.streams) await client.addStream(stream);
          return reply();
        } catch (error) {
          return reply({ failed: String(error) });
        }
      case 'doneStream':
        for (const stream of command.streams ?? client.owned().map((lease) => lease.stream)) {
          const outcome = await client.doneStream(stream).then(
            () => ({ outcome: 'done' as const }),
            (error: unknown) =>
              error instanceof NotOwnerError ? { outcome: 'not-owner' as const } : { outcome: 'failed' as const, message: String(error) },
          );
          await send({ event: 'finished', stream, ...outcome, at: Date.now() });
        }
        return reply();
    }
  };
  serveRequests<ConsumerCommand>(handle);

  try {
    await redis.connect();
    await recorder?.connect();
    await client.init();
  } catch (error) {
    await send({ event: 'error', name: error instanceof Error ? error.name : 'Error', message: String(error), at: Date.now() });
    await leave('failed-init');
    return;
  }
  await send({ event: 'ready', id: client.id(), pid: process.pid, at: Date.now() });
}

if (process.argv[1] === CHILD_FILE) void runChild(JSON.parse(process.argv[2]!) as ChildSettings);
