import type { ServiceConnection } from './connect.js';
import type { CliIo } from './io.js';
import { isStreamId } from '../processing/stream-id.js';
import { UsageError } from './exit-codes.js';

/** One option of a command, as `node:util` parseArgs takes it, with what help prints for it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The placeholder help shows for the option's value (`N`, `URL`). */
  readonly value?: string;
  readonly description: string;
}

export type OptionValues = Record<string, string | boolean | undefined>;

/** A command line parsed for one command. */
export interface Invocation {
  readonly values: OptionValues;
  readonly positionals: string[];
  /** parseArgs's tokens: the order of options and operands, for options followed by an optional operand. */
  readonly tokens: ReadonlyArray<{ kind: string; name?: string; value?: string; index: number }>;
  readonly io: CliIo;
  /** Connects to the service named by `--service` with the connection options (connect.ts). The frame closes it
   * after the command. */
  connect(): Promise<ServiceConnection>;
}

/**
 * A subcommand: `rsc <name> [options] [operands]`. Adding one is a file in lib/cli/commands/ exporting a Command,
 * and a line in the list of lib/cli/commands/index.ts.
 */
export interface Command {
  readonly name: string;
  /** One line, for `rsc help`. */
  readonly summary: string;
  /** The operands after the options, for the usage line (e.g. `STREAM`); '' for none. */
  readonly operands: string;
  /** Its options, the connection options (CONNECTION_OPTIONS) included when it talks to Redis. */
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** More help text: what it does, what it prints. */
  readonly details?: string;
  /** Runs it; resolves with the exit code. Throws UsageError for a bad value (exit 2), anything else for a failure
   * (exit 1). */
  run(invocation: Invocation): Promise<number>;
}

/** The operands a command takes, exactly these: a missing or extra one is a UsageError naming it. */
export function expectOperands(command: Command, positionals: readonly string[], names: readonly string[]): string[] {
  if (positionals.length < names.length) throw new UsageError(`missing ${names[positionals.length]}`, command.name);
  if (positionals.length > names.length) throw new UsageError(`unexpected argument '${positionals[names.length]}'`, command.name);
  return [...positionals];
}

/** A string option's value, or undefined when it was not given. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A positive integer option (`--limit 20`), or `fallback` when not given; anything else is a UsageError. */
export function positiveIntegerOption(command: Command, values: OptionValues, name: string, fallback: number): number {
  const text = stringOption(values, name);
  if (text === undefined) return fallback;
  return positiveInteger(command, `--${name}`, text);
}

export function positiveInteger(command: Command, what: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${what} must be a positive integer, got '${text}'`, command.name);
  }
  return value;
}

/** A stream id operand or option value (`1700000000000-0`, as Redis writes them); anything else is a UsageError
 * naming `what`. Checked before connecting: the library would refuse it, after the connection was made. */
export function streamId(command: Command, what: string, text: string): string {
  if (!isStreamId(text)) throw new UsageError(`${what} must be a stream id such as 1700000000000-0, got '${text}'`, command.name);
  return text;
}

/** The first operand of a command that has actions (`rsc position get ...`): one of `actions`, else a UsageError
 * listing them. Returns it and the operands after it. */
export function actionOperand<Action extends string>(command: Command, positionals: readonly string[], actions: readonly Action[]): [Action, string[]] {
  const [action, ...rest] = positionals;
  const list = `${actions.slice(0, -1).join(', ')} or ${actions[actions.length - 1]}`;
  if (action === undefined) throw new UsageError(`missing ACTION: ${list}`, command.name);
  if (!(actions as readonly string[]).includes(action)) throw new UsageError(`unknown action '${action}': ${list}`, command.name);
  return [action as Action, rest];
}
