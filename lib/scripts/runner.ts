import type { ServiceKeys } from '../keys.js';
import type { ResolvedOptions } from '../options.js';
import type { RedisCommander } from '../redis.js';
import { luaScripts } from './generated.js';

export type ScriptName = keyof typeof luaScripts;

/**
 * Runs the library's Lua scripts: a script's first call from this runner by EVAL, which caches it in Redis, later
 * ones by EVALSHA, falling back to EVAL when Redis lost the script (after a restart or SCRIPT FLUSH). Starting with
 * EVALSHA would cost each script's first call a NOSCRIPT round trip on a fresh server, and the arguments sent twice:
 * a hand-off's first call carries a thousand streams. Only the typed calls beside each script
 * (`lib/scripts/<name>.ts`) use it: they own the keys, the argument order and the decoding of the reply.
 */
export class ScriptRunner {
  /** The scripts this runner has sent whole at least once. */
  private readonly sent = new Set<ScriptName>();

  constructor(private readonly redis: RedisCommander) {}

  async run(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const script = luaScripts[name];
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    if (!this.sent.has(name)) {
      this.sent.add(name);
      return this.redis.sendCommand(['EVAL', script.source, ...tail]);
    }
    try {
      return await this.redis.sendCommand(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.redis.sendCommand(['EVAL', script.source, ...tail]);
    }
  }
}

/** What every script call needs besides its own arguments: the service's keys, this consumer and its options. */
export interface ScriptScope {
  readonly keys: ServiceKeys;
  readonly consumerId: string;
  readonly options: Pick<ResolvedOptions, 'maxEntryBytes' | 'maxDeliveries' | 'heartbeatMs' | 'rebalanceTolerance'>;
}
