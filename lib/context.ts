import type { ClientLog } from './client-log.js';
import type { ClientMetrics } from './metrics.js';
import type { ServiceKeys } from './keys.js';
import type { ResolvedOptions } from './options.js';
import type { RedisCommander } from './redis.js';
import type { ScriptRunner } from './scripts/runner.js';

/** What the cooperating parts of a client share: the commands connection, its scripts, keys, options, log and
 * metrics. */
export interface ClientContext {
  readonly redis: RedisCommander;
  readonly scripts: ScriptRunner;
  readonly keys: ServiceKeys;
  readonly consumerId: string;
  readonly options: ResolvedOptions;
  readonly log: ClientLog;
  /** What happened, counted for client.metrics(). */
  readonly metrics: ClientMetrics;
}
