/** Messages between the bench process and its consumer workers (bench/worker.ts), over the IPC channel: requests
 * answered by one reply each (spec/support/forked.ts carries them), and events the worker reports by itself. */
import type { LeaseOrigin, ReleaseReason } from '../../lib/index.js';
import type { MetricsMode } from './metrics-mode.js';

/** ours = RedisStreamClient; locks = per-stream locks (redis-stream-client-go's protocol); polling = XAUTOCLAIM. */
export type Impl = 'ours' | 'locks' | 'polling';

/** What a worker can run: an implementation of ownership, or xread = RedisStreamClient for ownership with each owned
 * stream read by hand (a connection and a blocking XREAD per stream, a fenced checkpoint per entry). */
export type WorkerImpl = Impl | 'xread';

/** Processing of the owned streams' entries (ours: run({ eachEntry }); xread: its per-stream loops). The handler does
 * nothing but record the call. */
export interface ProcessingConfig {
  /** ours: run()'s commitIntervalMs (its default when absent). */
  commitIntervalMs?: number;
  /** Keep every append -> handler start latency (ms, from the entry id's time). */
  latencies: boolean;
  /** Append `<stream> <id> <wall-clock ms>` to this file, synchronously, at every handler start: what a process
   * started survives its SIGKILL. */
  journal?: string;
  /** xread: the most reading connections (streams read) of this consumer; further streams stay owned and unread. */
  maxReaders?: number;
}

export interface StartConfig {
  impl: WorkerImpl;
  url: string;
  serviceName: string;
  heartbeatMs: number;
  /** ours: the autoClaim option. false = manual mode: the streamExpired handler claims every stream it is told
   * of and ignores AlreadyClaimedError. The baselines always claim by themselves. */
  autoClaim: boolean;
  /** each: report every owned stream with its time; count: only how many (no per-stream state kept). */
  report: 'each' | 'count';
  /** Tags every event, so that late events of an earlier start are told apart. */
  session: number;
  /** Process the entries of the owned streams (required by xread). */
  processing?: ProcessingConfig;
  /** ours, xread: the rebalance option (the library's default, on, when absent). Off, a consumer keeps what it took:
   * scenarios whose set-up loads one consumer before the others start need that. */
  rebalance?: boolean;
  /** ours: an explicit consumerId (a restart comes back under it); otherwise one of the worker's own. */
  consumerId?: string;
  /** ours: the restartGraceMs option. */
  restartGraceMs?: number;
  /** report each, ours: also time the end of every lease (its signal's abort), sent with its release. */
  leaseEnds?: boolean;
  /** ours: how much of the metrics machinery runs (bench/lib/metrics-mode.ts); on, the library as shipped, when absent. */
  metrics?: MetricsMode;
}

/** What a start reply says: the consumer's id, and when its init() was called (wall-clock ms). */
export interface Started {
  consumerId: string;
  initAt: number;
}

/** A stream this consumer came to own: [stream, wall-clock ms, recovered, origin]. The baselines report 'new' or
 * 'takeover'. */
export type AddedItem = [string, number, boolean, LeaseOrigin];

/** A stream this consumer gave up (streamReleased): [stream, wall-clock ms of the event, reason, wall-clock ms its
 * lease ended (its signal aborted; 0 unless leaseEnds)]. */
export type ReleasedItem = [string, number, ReleaseReason, number];

/** What the handler saw since the last reset. */
export interface ProcessedSnapshot {
  /** Handler calls. */
  count: number;
  /** Wall-clock ms of the first and last handler start (0 when none). */
  firstAt: number;
  lastAt: number;
  /** Append -> handler start (ms) of every call, in order, when asked for. */
  latencies: number[];
  /** xread: reading connections open now, and those that could not be opened (their streams stay unread). */
  readersOpen: number;
  readersFailed: number;
}

/** A paced producer: XADD to `streams` in turn at `rate` entries/s for `durationMs`, pipelined. */
export interface ProduceRequest {
  url: string;
  streams: string[];
  rate: number;
  durationMs: number;
}

export interface ProduceResult {
  sent: number;
  /** Wall-clock ms of the first and the last XADD sent. */
  startedAt: number;
  endedAt: number;
}

/** Calls the worker's clients sent, by command; script calls by script name, with claim entries. */
export interface Counters {
  calls: Record<string, number>;
  scripts: Record<string, ScriptTiming>;
  /** Manual mode: claim() calls made by the streamExpired handler, and how many were refused. */
  claimCalls: number;
  claimRefused: number;
  expiredEvents: number;
  /** Baselines: durations of their per-stream upkeep passes (lock extension, idle refresh), ms. */
  upkeepMs: number[];
  /** Streams lost (disowned) since the last reset. */
  disowned: number;
  /** The first script calls since the last reset: [script, wall-clock ms sent, ms until the reply]. */
  log: Array<[string, number, number]>;
  /** Wall-clock ms of the first and last streamExpired event (manual mode), 0 when none. */
  firstExpiredAt: number;
  lastExpiredAt: number;
  /** Each 'handoff:' message the consumer's subscriptions heard (another consumer handed it streams, named in the
   * message): wall-clock ms heard, ms until the library had handled it (its streamAdded events emitted), streams in it. */
  handoffMessages: HandoffHeard[];
}

/** A 'handoff:' message heard: [wall-clock ms heard, ms to handle it, streams it hands over]. */
export type HandoffHeard = [number, number, number];

/** The logged calls of one script (Counters.log), by EVAL or EVALSHA. */
export function loggedCalls(counters: Counters, script: string): Array<[string, number, number]> {
  return counters.log.filter(([name]) => name === script);
}

/** Script calls of one script, timed in the worker from send to reply (queueing in the client included). */
export interface ScriptTiming {
  calls: number;
  /** claim.lua: entries passed. */
  entries: number;
  totalMs: number;
  maxMs: number;
  /** Wall-clock ms of the first call sent and of the last reply. */
  firstAt: number;
  lastAt: number;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export type Request =
  | { type: 'start'; config: StartConfig }
  /** Graceful hand-off (ours: client.close(), or close({ restart: true })). */
  | { type: 'close'; restart?: boolean }
  /** Ends the current consumer quietly; the worker stays up for the next start. */
  | { type: 'stop' }
  | { type: 'memory' }
  | { type: 'counters'; reset: boolean }
  | { type: 'processed'; reset: boolean }
  | { type: 'produce'; request: ProduceRequest }
  | { type: 'exit' };

export type WorkerEvent =
  /** The worker serves requests. */
  | { type: 'up' }
  /** Streams this consumer owns now. */
  | { type: 'added'; session: number; items: AddedItem[] }
  | { type: 'disowned'; session: number; items: Array<[string, number]> }
  | { type: 'released'; session: number; items: ReleasedItem[] }
  /** report: count; processed = handler calls since the last reset of the processed figures. */
  | { type: 'count'; session: number; owned: number; added: number; lastAt: number; processed: number }
  | { type: 'error'; session: number; message: string };

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function wallNow(): number {
  return TIME_ORIGIN + performance.now();
}

/** Read once: the `performance.timeOrigin` getter costs microseconds a call, and wallNow() runs once per event. */
const TIME_ORIGIN = performance.timeOrigin;
