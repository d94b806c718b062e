import type { ServiceKeys } from '../keys.js';
import type { ResolvedOptions } from '../options.js';
import type { RedisCommander } from '../redis.js';
import { luaScripts } from './generated.js';

export type ScriptName = keyof typeof luaScripts;

/**
 * Runs the library's Lua scripts by EVALSHA, falling back to EVAL when Redis does not have the script (after a
 * restart or SCRIPT FLUSH); EVAL caches it again for the next call. Only the typed calls beside each script
 * (`lib/scripts/<name>.ts`) use it: they own the keys, the argument order and the decoding of the reply.
 */
export class ScriptRunner {
  constructor(private readonly redis: RedisCommander) {}

  async run(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const script = luaScripts[name];
    const tail = [String(keys.length), ...keys, ...args.map(String)];
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
