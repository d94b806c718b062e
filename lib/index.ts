export { RedisStreamClient, type CloseOptions, type DrainOptions, type DrainResult, type InitOptions, type StopOptions } from './client.js';
export { addStream, encodeEntry } from './producer.js';
export { keysFor, type ServiceKeys } from './keys.js';
export {
  AlreadyClaimedError,
  ConfigError,
  DeadLetterError,
  EntryDeadLetterError,
  ListenerError,
  NotOwnerError,
  NotRunningError,
  RedisStreamClientError,
  RepeatedErrors,
  SessionLostError,
  StreamProcessingError,
  type ClaimRefusal,
} from './errors.js';
export type { ExpiredStream, LeaseOrigin, RedisStreamClientEvents, ReleaseReason, ReleasedStream, StreamInfo, StreamLease } from './events.js';
export type { ClientHealth, ClientState } from './health.js';
export type { HistogramSnapshot, MetricsSnapshot } from './metrics.js';
export type { ServiceMetrics } from './service-metrics.js';
export type { RedisStreamClientOptions } from './options.js';
export type { EachBatch, EachEntry, StreamBatch, StreamEntry } from './processing/entry.js';
export type { EntriesOptions, RunOptions } from './processing/run-options.js';
export { on, once, type ClientEventSource, type EventIterationOptions, type EventPayload } from './event-iterator.js';
export type { LogFields, Logger } from './logger.js';
export type { RedisClientLike } from './redis.js';
