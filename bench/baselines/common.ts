/**
 * What the two baselines share: their own load balancer stream and consumer group (same entry format as the
 * library and redis-stream-client-go: field `lbs-input`, JSON `{"DataStreamName": ..., "Info": {...}}`), and a
 * reader that takes new entries with a blocking XREADGROUP on its own connection.
 */
import type { createClient } from 'redis';

export type NodeRedis = ReturnType<typeof createClient>;

export interface BaselineKeys {
  lbs: string;
  group: string;
}

export function baselineKeys(serviceName: string): BaselineKeys {
  return { lbs: `bench:{${serviceName}}:lbs`, group: 'bench-consumers' };
}

export interface BaselineEvents {
  onAdded(stream: string, recovered: boolean): void;
  onDisowned(stream: string): void;
  onError(error: unknown): void;
}

export interface BaselineOptions {
  serviceName: string;
  heartbeatMs: number;
  consumerId: string;
}

/** Entries per XREADGROUP, as the library's take batch. */
export const READ_COUNT = 10;
const BLOCK_MS = 5000;

export function streamOf(fields: unknown): string | undefined {
  if (!Array.isArray(fields)) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'lbs-input') {
      try {
        const doc = JSON.parse(String(fields[i + 1])) as { DataStreamName?: unknown };
        return typeof doc.DataStreamName === 'string' && doc.DataStreamName !== '' ? doc.DataStreamName : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export async function createGroup(redis: NodeRedis, keys: BaselineKeys): Promise<void> {
  try {
    await redis.sendCommand(['XGROUP', 'CREATE', keys.lbs, keys.group, '0', 'MKSTREAM']);
  } catch (error) {
    if (!String(error).includes('BUSYGROUP')) throw error;
  }
}

/** Reads new LBS entries until stopped and hands each batch to `admit`. */
export class BlockingReader {
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly connection: NodeRedis,
    private readonly keys: BaselineKeys,
    private readonly consumerId: string,
    private readonly admit: (entries: Array<{ id: string; stream: string }>) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.connection.disconnect().catch(() => undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const reply = (await this.connection.sendCommand([
          'XREADGROUP', 'GROUP', this.keys.group, this.consumerId, 'COUNT', String(READ_COUNT), 'BLOCK', String(BLOCK_MS),
          'STREAMS', this.keys.lbs, '>',
        ])) as Array<[string, Array<[string, unknown]>]> | null;
        const entries: Array<{ id: string; stream: string }> = [];
        for (const [id, fields] of reply?.[0]?.[1] ?? []) {
          const stream = streamOf(fields);
          if (stream) entries.push({ id, stream });
        }
        if (entries.length > 0) await this.admit(entries);
      } catch (error) {
        if (this.stopping) break;
        this.onError(error);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

/** Runs `tick` every `periodMs` (measured from one start to the next; a tick that overruns is followed at once). */
export class Ticker {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Durations of the ticks run since the last drain (ms). */
  private durations: number[] = [];

  constructor(
    private readonly periodMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(firstDelayMs = this.periodMs): void {
    this.timer = setTimeout(() => void this.run(), firstDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** The durations of the ticks run since the last call (ms). */
  drain(): number[] {
    const durations = this.durations;
    this.durations = [];
    return durations;
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const startedAt = performance.now();
    this.running = this.tick().catch((error: unknown) => this.onError(error));
    await this.running;
    this.running = undefined;
    const took = performance.now() - startedAt;
    if (this.durations.length < 10_000) this.durations.push(took);
    if (!this.stopped) this.timer = setTimeout(() => void this.run(), Math.max(0, this.periodMs - took));
  }
}
