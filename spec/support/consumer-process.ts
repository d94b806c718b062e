/**
 * A consumer in a child process, for tests that kill or stop one with real signals. The parent starts it with
 * `spawnConsumer()`; the child reports its events over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createClient, createCluster } from 'redis';
import { AlreadyClaimedError, RedisStreamClient, type RedisStreamClientOptions } from '../../lib/index.js';

export type ConsumerReport =
  | { event: 'ready'; id: string }
  | { event: 'streamAdded'; stream: string; token: number; recovered: boolean; at: number }
  | { event: 'streamExpired'; stream: string; previousOwner: string; at: number }
  | { event: 'streamDisowned'; stream: string; aborted: boolean; at: number }
  | { event: 'claimRefused'; stream: string; reason: string }
  | { event: 'error'; message: string };

/** A child consumer and everything it reported. */
export class ConsumerProcess {
  readonly reports: ConsumerReport[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    child.on('message', (report: ConsumerReport) => this.reports.push(report));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Streams this consumer holds by its reports: added and not disowned since. */
  owned(): Set<string> {
    const owned = new Set<string>();
    for (const report of this.reports) {
      if (report.event === 'streamAdded') owned.add(report.stream);
      if (report.event === 'streamDisowned') owned.delete(report.stream);
    }
    return owned;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

export interface SpawnOptions {
  /** Manual mode: claim every stream `streamExpired` reports (a won claim is reported as streamAdded). */
  claimExpired?: boolean;
  /** CLIENT SETNAME for every connection of the child (node-redis passes it on to duplicates), to find them in
   * CLIENT LIST. Not on a cluster. */
  clientName?: string;
}

/** Starts a consumer process, resolving once it is initialised. `url` is a Redis URL, or the node URLs of a
 * Redis Cluster. */
export async function spawnConsumer(
  url: string | string[],
  options: RedisStreamClientOptions,
  spawn: SpawnOptions = {},
): Promise<ConsumerProcess> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(url), JSON.stringify(options), JSON.stringify(spawn)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const consumer = new ConsumerProcess(child);
  await new Promise<void>((resolve, reject) => {
    child.on('message', (report: ConsumerReport) => report.event === 'ready' && resolve());
    child.on('exit', (code) => reject(new Error(`consumer process exited with ${code} before it was ready`)));
  });
  return consumer;
}

async function runConsumer(url: string | string[], options: RedisStreamClientOptions, spawn: SpawnOptions): Promise<void> {
  const send = (report: ConsumerReport): void => void process.send?.(report);
  // The test process went away (crashed, or its worker was ended): nobody will kill this one, and the client's
  // connections and timers would keep it running.
  process.once('disconnect', () => process.exit(0));
  const redis = Array.isArray(url)
    ? createCluster({ rootNodes: url.map((node) => ({ url: node })) })
    : createClient({ url, ...(spawn.clientName ? { name: spawn.clientName } : {}) });
  redis.on('error', () => undefined);
  await redis.connect();
  const client = new RedisStreamClient(redis, options);
  client.on('streamAdded', (lease) =>
    send({ event: 'streamAdded', stream: lease.stream, token: lease.token, recovered: lease.recovered, at: Date.now() }),
  );
  client.on('streamExpired', (expired) => {
    send({ event: 'streamExpired', stream: expired.stream, previousOwner: expired.previousOwner, at: Date.now() });
    if (!spawn.claimExpired) return;
    client.claim(expired).then(
      (lease) => send({ event: 'streamAdded', stream: lease.stream, token: lease.token, recovered: true, at: Date.now() }),
      (error: unknown) =>
        send({ event: 'claimRefused', stream: expired.stream, reason: error instanceof AlreadyClaimedError ? error.reason : String(error) }),
    );
  });
  client.on('streamDisowned', (lease) =>
    send({ event: 'streamDisowned', stream: lease.stream, aborted: lease.signal.aborted, at: Date.now() }),
  );
  client.on('error', (error) => send({ event: 'error', message: error.message }));
  process.on('message', (command: string) => {
    const stop = command === 'done' ? client.done() : client.close();
    void stop.then(() => redis.disconnect()).then(() => process.disconnect());
  });
  await client.init();
  send({ event: 'ready', id: client.id() });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  void runConsumer(
    JSON.parse(process.argv[2]!) as string | string[],
    JSON.parse(process.argv[3]!) as RedisStreamClientOptions,
    JSON.parse(process.argv[4]!) as SpawnOptions,
  );
}
