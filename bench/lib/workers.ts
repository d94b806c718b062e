/** The bench process's side of the consumer workers: forking, requests over IPC, what each one reported. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Counters, MemorySample, Request, StartConfig, WorkerEvent } from './protocol.js';

const WORKER_FILE = fileURLToPath(new URL('../worker.ts', import.meta.url));
const REQUEST_TIMEOUT_MS = 120_000;

const live = new Set<ChildProcess>();
let nextSession = 1;

/** SIGKILLs every worker still running (on exit, on a signal, on the watchdog). */
export function killAllWorkers(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
process.on('exit', killAllWorkers);

export class Worker {
  /** What the current session reported. */
  added: Array<[string, number, boolean]> = [];
  disowned: Array<[string, number]> = [];
  owned = 0;
  totalAdded = 0;
  lastAt = 0;
  errors: string[] = [];
  consumerId = '';
  private session = 0;
  private rid = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly exited: Promise<void>;
  private dead = false;

  private constructor(
    readonly child: ChildProcess,
    readonly gc: boolean,
  ) {
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.dead = true;
        live.delete(child);
        for (const { reject } of this.pending.values()) reject(new Error(`worker ${child.pid} exited`));
        this.pending.clear();
        resolve();
      }),
    );
    child.on('message', (event: WorkerEvent) => this.receive(event));
  }

  static async spawn({ gc = false }: { gc?: boolean } = {}): Promise<Worker> {
    const child = fork(WORKER_FILE, [], {
      execArgv: [...(gc ? ['--expose-gc'] : []), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new Worker(child, gc);
    await new Promise<void>((resolve, reject) => {
      worker.pending.set(0, { resolve: () => resolve(), reject });
      setTimeout(() => reject(new Error('worker did not start within 30 s')), 30_000).unref();
    });
    return worker;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.dead;
  }

  async start(config: Omit<StartConfig, 'session'>): Promise<string> {
    this.session = nextSession++;
    this.added = [];
    this.disowned = [];
    this.owned = 0;
    this.totalAdded = 0;
    this.lastAt = 0;
    this.errors = [];
    this.consumerId = String(await this.request({ type: 'start', config: { ...config, session: this.session } }));
    return this.consumerId;
  }

  /** Graceful hand-off; resolves with when close() was called and when it returned (wall-clock ms). */
  close(): Promise<{ startedAt: number; endedAt: number }> {
    return this.request({ type: 'close' }) as Promise<{ startedAt: number; endedAt: number }>;
  }

  async stop(): Promise<void> {
    if (this.dead) return;
    await this.request({ type: 'stop' });
    this.session = -1;
  }

  memory(): Promise<MemorySample> {
    return this.request({ type: 'memory' }) as Promise<MemorySample>;
  }

  counters(reset = false): Promise<Counters> {
    return this.request({ type: 'counters', reset }) as Promise<Counters>;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Asks the worker to exit; SIGKILL when it has not within 5 s. */
  async exit(): Promise<void> {
    if (this.dead) return;
    const timer = setTimeout(() => this.kill(), 5_000);
    this.request({ type: 'exit' }).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }

  private request(request: Request): Promise<unknown> {
    if (this.dead) return Promise.reject(new Error(`worker ${this.pid} is gone`));
    const rid = this.rid++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`worker ${this.pid}: ${request.type} timed out`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(rid, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ rid, request });
    });
  }

  private receive(event: WorkerEvent): void {
    if (event.type === 'reply') {
      const waiter = this.pending.get(event.rid);
      this.pending.delete(event.rid);
      if (event.ok) waiter?.resolve(event.result);
      else waiter?.reject(new Error(event.error));
      return;
    }
    if (event.session !== this.session) return;
    switch (event.type) {
      case 'added':
        this.added.push(...event.items);
        break;
      case 'disowned':
        this.disowned.push(...event.items);
        break;
      case 'count':
        this.owned = event.owned;
        this.totalAdded = event.added;
        this.lastAt = event.lastAt;
        break;
      case 'error':
        this.errors.push(event.message);
        break;
    }
  }
}

/** Workers kept up between runs (starting one with tsx costs about a second of CPU). Killed ones are replaced on
 * demand, never during a measurement. */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  async acquire(count: number): Promise<Worker[]> {
    const ready = this.idle.splice(0, count).filter((worker) => worker.alive);
    const spawned = await Promise.all(Array.from({ length: count - ready.length }, () => Worker.spawn()));
    spawned.forEach((worker) => this.all.add(worker));
    return [...ready, ...spawned];
  }

  /** Stops the workers' consumers and keeps the live ones for the next run. */
  async release(workers: readonly Worker[]): Promise<void> {
    await Promise.all(
      workers.map(async (worker) => {
        if (!worker.alive) return;
        try {
          await worker.stop();
          this.idle.push(worker);
        } catch {
          worker.kill();
        }
      }),
    );
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.all].map((worker) => worker.exit()));
    this.all.clear();
    this.idle.length = 0;
  }
}
