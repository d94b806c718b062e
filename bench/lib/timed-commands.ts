/** The probes' view of a consumer in their own process: every command its connections send, by name, timed. */
import { luaScripts } from '../../lib/scripts/generated.js';
import type { NodeRedis } from '../baselines/common.js';

/** A command sent: [command or script name, sent, replied] (times from the clock given to timeCommands). */
export type TimedCall = [string, number, number];

const scriptNames = new Map<string, string>(Object.entries(luaScripts).map(([name, script]) => [script.sha, name]));

/** How much of an EVAL's script tells the library's scripts apart: SLOWLOG keeps the first 128 bytes of an argument,
 * and each script starts with its own description. */
const SCRIPT_HEAD = 100;

/** The command's name, or for EVALSHA and EVAL the library script's (lib/scripts/<name>.lua). */
export function commandName(args: readonly string[]): string {
  const command = String(args[0]).toUpperCase();
  if (command === 'EVALSHA') return scriptNames.get(String(args[1])) ?? 'EVALSHA';
  if (command === 'EVAL') {
    const head = String(args[1]).slice(0, SCRIPT_HEAD);
    return Object.entries(luaScripts).find(([, script]) => script.source.slice(0, SCRIPT_HEAD) === head)?.[0] ?? 'EVAL';
  }
  return command;
}

/** Wraps `client` so that every sendCommand, on it and on its duplicates (the library's own connections), is
 * pushed to `calls` once its reply came. */
export function timeCommands(client: NodeRedis, calls: TimedCall[], now: () => number): NodeRedis {
  return new Proxy(client, {
    get(target, property) {
      if (property === 'sendCommand') {
        return (args: string[], ...rest: unknown[]) => {
          const sentAt = now();
          const reply = (target.sendCommand as (...all: unknown[]) => Promise<unknown>)(args, ...rest);
          const done = (): void => void calls.push([commandName(args), sentAt, now()]);
          reply.then(done, done);
          return reply;
        };
      }
      if (property === 'duplicate') return (...rest: unknown[]) => timeCommands((target.duplicate as (...all: unknown[]) => NodeRedis)(...rest), calls, now);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...all: unknown[]) => unknown).bind(target) : value;
    },
  });
}
