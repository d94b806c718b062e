import { luaScripts } from './scripts/generated.js';
import type { RedisCommander } from './redis.js';

export type ScriptName = keyof typeof luaScripts;

/**
 * Runs the library's Lua scripts by EVALSHA, falling back to EVAL when Redis does not have the script (after a
 * restart or SCRIPT FLUSH); EVAL caches it again for the next call.
 */
export class Scripts {
  constructor(private readonly redis: RedisCommander) {}

  async run(
    name: ScriptName,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<unknown> {
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
