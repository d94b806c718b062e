/** The bench process's side of the consumer workers: forking, requests over IPC, what each one reported. */
import { fileURLToPath } from 'node:url';
import { forkTs, type Exit, type Forked } from '../../spec/support/forked.js';
import { DEFAULT_CLIENT, type ClientMajor } from './node-redis.js';
import type {
  AddedItem,
  Counters,
  MemorySample,
  ProcessedSnapshot,
  ProduceRequest,
  ProduceResult,
  ReleasedItem,
  Request,
  StartConfig,
  Started,
  WorkerEvent,
} from './protocol.js';

const WORKER_FILE = fileURLToPath(new URL('../worker.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 120_000;

let nextSession = 1;

export class Worker {
  /** What the current session reported. */
  added: AddedItem[] = [];
  disowned: Array<[string, number]> = [];
  released: ReleasedItem[] = [];
  owned = 0;
  totalAdded = 0;
  lastAt = 0;
  /** Handler calls since the last reset of the processed figures (reported with the counts). */
  processed = 0;
  errors: string[] = [];
  consumerId = '';
  /** When the current consumer's init() was called (wall-clock ms). */
  initAt = 0;
  private session = 0;

  private constructor(
    private readonly forked: Forked<WorkerEvent, Request>,
    /** The node-redis major of every client the worker creates. */
    readonly client: ClientMajor,
  ) {
    forked.onReport((event) => this.receive(event));
  }

  /** Forks a worker whose clients are of node-redis `client` and resolves once it serves requests. With
   * BENCH_CPU_PROF=<dir>, each worker writes a CPU profile there when it exits (not when killed). */
  static async spawn({ gc = false, client = DEFAULT_CLIENT }: { gc?: boolean; client?: ClientMajor } = {}): Promise<Worker> {
    const forked = forkTs<WorkerEvent, Request>(WORKER_FILE, [`--client=${client}`], { gc, cpuProfileDir: process.env.BENCH_CPU_PROF || undefined });
    const worker = new Worker(forked, client);
    await forked.ready((event) => event.type === 'up', START_TIMEOUT_MS);
    return worker;
  }

  get pid(): number {
    return this.forked.pid;
  }

  get alive(): boolean {
    return this.forked.alive;
  }

  get exited(): Promise<Exit> {
    return this.forked.exited;
  }

  async start(config: Omit<StartConfig, 'session'>): Promise<string> {
    this.session = nextSession++;
    this.added = [];
    this.disowned = [];
    this.released = [];
    this.owned = 0;
    this.totalAdded = 0;
    this.lastAt = 0;
    this.processed = 0;
    this.errors = [];
    const started = await this.request<Started>({ type: 'start', config: { ...config, session: this.session } });
    this.consumerId = started.consumerId;
    this.initAt = started.initAt;
    return this.consumerId;
  }

  /** Graceful hand-off (`restart`: close({ restart: true })); resolves with when close() was called and when it
   * returned (wall-clock ms), once what the consumer reported while closing has arrived. */
  close(restart = false): Promise<{ startedAt: number; endedAt: number }> {
    return this.request({ type: 'close', restart });
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    await this.request({ type: 'stop' });
    this.session = -1;
  }

  memory(): Promise<MemorySample> {
    return this.request({ type: 'memory' });
  }

  counters(reset = false): Promise<Counters> {
    return this.request({ type: 'counters', reset });
  }

  /** What the handler saw; `reset` starts the figures (and the live count) again from zero. */
  async processedSnapshot(reset = false): Promise<ProcessedSnapshot> {
    const snapshot = await this.request<ProcessedSnapshot>({ type: 'processed', reset });
    if (reset) this.processed = 0;
    return snapshot;
  }

  /** Produces entries at a steady rate from this worker's process (no consumer needed). */
  produce(request: ProduceRequest): Promise<ProduceResult> {
    return this.request({ type: 'produce', request });
  }

  kill(): void {
    this.forked.kill('SIGKILL');
  }

  /** Asks the worker to exit; SIGKILL when it has not within 5 s. */
  async exit(): Promise<void> {
    if (!this.alive) return;
    const timer = setTimeout(() => this.kill(), 5_000);
    this.request({ type: 'exit' }).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }

  private request<Result>(request: Request): Promise<Result> {
    return this.forked.request<Result>(request, { timeoutMs: REQUEST_TIMEOUT_MS }).catch((error: unknown) => {
      throw new Error(`worker ${request.type}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
  }

  private receive(event: WorkerEvent): void {
    if (event.type === 'up' || event.session !== this.session) return;
    switch (event.type) {
      case 'added':
        this.added.push(...event.items);
        break;
      case 'disowned':
        this.disowned.push(...event.items);
        break;
      case 'released':
        this.released.push(...event.items);
        break;
      case 'count':
        this.owned = event.owned;
        this.totalAdded = event.added;
        this.lastAt = event.lastAt;
        this.processed = event.processed;
        break;
      case 'error':
        this.errors.push(event.message);
        break;
    }
  }
}

/** Workers kept up between runs (starting one with tsx costs about a second of CPU). Killed ones are replaced on
 * demand, never during a measurement. All of a pool's workers create clients of one node-redis major. */
export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();

  constructor(readonly client: ClientMajor = DEFAULT_CLIENT) {}

  async acquire(count: number): Promise<Worker[]> {
    const ready = this.idle.splice(0, count).filter((worker) => worker.alive);
    return [...ready, ...(await this.spawn(count - ready.length))];
  }

  /** New worker processes, never idle ones (a restart runs a consumer in a process of its own). */
  async spawn(count: number): Promise<Worker[]> {
    const spawned = await Promise.all(Array.from({ length: count }, () => Worker.spawn({ client: this.client })));
    spawned.forEach((worker) => this.all.add(worker));
    return spawned;
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
